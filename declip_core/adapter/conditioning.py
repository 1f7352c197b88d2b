"""Append adapter tokens to text conditioning: batch rules and attention-mask bookkeeping (torch only)."""
from __future__ import annotations

import torch


def match_batch(x: torch.Tensor, batch: int) -> torch.Tensor:
    """The one rule for Be references against a batch of B samples: used by append_tokens (the adapter's
    training and every front door), the diffusers helper and the ComfyUI apply node.

    Args:
        x: the adapter's output for Be references: tokens (Be, N, C) or pooled vectors (Be, D).
        batch: B, the number of samples in the conditioning batch (>= 1).

    Returns:
        - Be == B: x itself (one reference per sample);
        - Be == 1: x expanded to (B, ...) (one reference shared by every sample; a view, no copy);
        - B a multiple of Be: each reference repeated for B / Be consecutive samples, (B, ...)
          (the order of diffusers' num_images_per_prompt: prompt 0's images first);
        - B == 1 < Be: the references act together on the one sample: tokens concatenated into one
          sequence (1, Be*N, C), as ComfyUI's StyleModelApply does with several reference images;
          pooled vectors averaged, (1, D).

    Raises:
        ValueError: x is not 2-D or 3-D, batch < 1, or Be and B fit none of the cases above.
    """
    if x.ndim not in (2, 3):
        raise ValueError(f"adapter tokens must be (B, N, C) and pooled vectors (B, D), got {tuple(x.shape)}")
    if batch < 1:
        raise ValueError(f"conditioning batch must be >= 1, got {batch}")
    be = x.shape[0]
    if be == batch:
        return x
    if be == 1:
        return x.expand(batch, *x.shape[1:])  # (B, ...)
    if batch % be == 0:
        return x.repeat_interleave(batch // be, dim=0)  # (B, ...): B / Be samples per reference
    if batch == 1:
        return x.reshape(1, -1, x.shape[-1]) if x.ndim == 3 else x.mean(dim=0, keepdim=True)  # (1, Be*N, C) / (1, D)
    raise ValueError(
        f"{be} reference embeddings cannot be matched to a conditioning batch of {batch}; "
        "use one embedding, one per conditioning sample (or a divisor of the batch), or a conditioning batch of 1"
    )


def append_tokens(context: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """(B, L, C) context + (Be, N, C) tokens -> (B, L + N', C), with the batch rules of match_batch."""
    if context.ndim != 3:
        raise ValueError(f"conditioning must be (B, L, C), got {tuple(context.shape)}")
    if tokens.ndim != 3 or tokens.shape[-1] != context.shape[-1]:
        raise ValueError(
            f"adapter tokens are {tokens.shape[-1] if tokens.ndim == 3 else tuple(tokens.shape)} wide but the "
            f"conditioning is {context.shape[-1]} wide: this adapter was made for a different model family "
            "(SD1.5 conditioning is 768 wide, SDXL 2048)"
        )
    tokens = match_batch(tokens.to(device=context.device, dtype=context.dtype), context.shape[0])
    return torch.cat([context, tokens], dim=1)  # (B, L + N', C)


def extend_attention_mask(mask: torch.Tensor, n_txt: int, n_new: int, n_ref: int, bias: float = 0.0) -> torch.Tensor:
    """Grow a (B, T, T) attention mask (T = n_txt + n_ref) to make room for n_new tokens after the text.

    Sequence layout: [text (n_txt) | new (n_new) | reference tokens (n_ref)], ComfyUI's layout.
    Existing entries keep their values (a bool mask becomes a 0 / -inf float16 bias, as in
    ComfyUI's StyleModelApply); old query rows get `bias` (0: plain attention) towards the new
    tokens. Returns (B, T + n_new, T + n_new) float16 on the mask's device.
    """
    total_old = n_txt + n_ref
    if mask.ndim != 3 or mask.shape[-1] != total_old or mask.shape[-2] != total_old:
        raise ValueError(
            f"existing attention_mask has shape {tuple(mask.shape)}, expected (B, {total_old}, {total_old}) "
            f"for {n_txt} text tokens and {n_ref} reference tokens"
        )
    if mask.dtype == torch.bool:
        mask = torch.log(mask.to(torch.float16))  # True -> 0, False -> -inf
    mask = mask.to(torch.float16)
    total = total_old + n_new
    out = mask.new_zeros((mask.shape[0], total, total))  # (B, T', T')
    old = torch.cat([torch.arange(n_txt), torch.arange(n_txt + n_new, total)]).to(mask.device)  # old positions
    out[:, old[:, None], old[None, :]] = mask
    out[:, :n_txt, n_txt : n_txt + n_new] = bias
    out[:, n_txt + n_new :, n_txt : n_txt + n_new] = bias
    return out
