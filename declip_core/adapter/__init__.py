"""DP-Adapter: DeCLIP's perceptual embedding as extra context tokens for diffusion models.

Torch-only parts import here; diffusers is imported only by `diffusers_helper` and `diffusion`.
"""
from declip_core.adapter.conditioning import append_tokens, extend_attention_mask, match_batch
from declip_core.adapter.dp_adapter import MODEL_FAMILIES, AdapterOutput, DPAdapter, DPAdapterConfig
from declip_core.adapter.io import CHECKPOINT_KIND, load_adapter, save_adapter

__all__ = [
    "CHECKPOINT_KIND",
    "MODEL_FAMILIES",
    "AdapterOutput",
    "DPAdapter",
    "DPAdapterConfig",
    "append_tokens",
    "extend_attention_mask",
    "load_adapter",
    "match_batch",
    "save_adapter",
]
