"""Compare DPAdapterApply with ComfyUI's own StyleModelApply on the same tokens (run inside ComfyUI's Python).

    COMFYUI_PATH=/path/to/ComfyUI python tests/comfy/stylemodel_parity.py
Prints a JSON report; exit status 0 when every case matches.
"""
from __future__ import annotations

import json
import os
import sys

import torch


class _FixedStyleModel:
    """Stands in for a STYLE_MODEL: get_cond returns fixed tokens (1, N, C)."""

    def __init__(self, tokens: torch.Tensor) -> None:
        self.tokens = tokens

    def get_cond(self, _clip_vision_output: object) -> torch.Tensor:
        return self.tokens.clone()


def main() -> int:
    sys.path.insert(0, os.environ["COMFYUI_PATH"])
    sys.argv = [sys.argv[0], "--cpu"]  # ComfyUI reads its flags at import: no GPU here
    import comfy.options

    comfy.options.enable_args_parsing()
    import nodes as comfy_nodes  # ComfyUI's nodes.py

    from comfyui_nodes.apply import apply_adapter
    from declip_core.adapter import DPAdapter, DPAdapterConfig

    torch.manual_seed(0)
    adapter = DPAdapter(DPAdapterConfig(perceptual_dim=16, context_dim=768, num_tokens=4, hidden_dim=32)).eval()
    perceptual = torch.nn.functional.normalize(torch.randn(1, 16), dim=-1)
    strength = 0.7
    with torch.no_grad():
        tokens = adapter(perceptual).tokens  # (1, 4, 768)
    txt = torch.randn(1, 77, 768)
    cases = {
        "plain": {"pooled_output": torch.randn(1, 768), "extra": "kept"},
        "bool_mask": {"pooled_output": torch.randn(1, 768), "attention_mask": torch.rand(1, 78, 78) > 0.3},
        "none_mask": {"attention_mask": None},
        "float_mask_img_shape": {"attention_mask": torch.randn(1, 77 + 6, 77 + 6).half(),
                                 "attention_mask_img_shape": (2, 3)},
    }
    report, ok = {}, True
    for name, keys in cases.items():
        cond = [[txt, dict(keys)]]
        (theirs,) = comfy_nodes.StyleModelApply().apply_stylemodel(
            cond, _FixedStyleModel(tokens), None, strength, "multiply")
        ours = apply_adapter(cond, adapter, perceptual, strength)
        same = torch.allclose(theirs[0][0], ours[0][0], atol=1e-6) and theirs[0][1].keys() == ours[0][1].keys()
        for k in theirs[0][1]:
            a, b = theirs[0][1][k], ours[0][1][k]
            same = same and (torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b)
        report[name] = bool(same)
        ok = ok and same
    print(json.dumps(report))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
