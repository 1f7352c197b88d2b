"""Append adapter tokens to text conditioning: batch rules and attention-mask bookkeeping (torch only)."""
from __future__ import annotations

import torch


def match_batch(tokens: torch.Tensor, batch: int) -> torch.Tensor:
    """Fit (Be, N, C) adapter tokens to a conditioning batch of size `batch`.

    Be == batch: one reference per sample. Be == 1: the reference is shared by every sample.
    batch == 1 and Be > 1: all references' tokens go into one sequence (1, Be*N, C), as
    ComfyUI's StyleModelApply does with several reference images. Anything else is an error.
    """
    if tokens.ndim != 3:
        raise ValueError(f"adapter tokens must be (B, N, C), got {tuple(tokens.shape)}")
    be = tokens.shape[0]
    if be == batch:
        return tokens
    if be == 1:
        return tokens.expand(batch, -1, -1)  # (batch, N, C)
    if batch == 1:
        return tokens.reshape(1, -1, tokens.shape[-1])  # (1, Be*N, C)
    raise ValueError(
        f"{be} reference embeddings cannot be matched to a conditioning batch of {batch}; "
        "use one embedding, one per conditioning sample, or a conditioning batch of 1"
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
