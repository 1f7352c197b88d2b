"""Names of the socket types this pack adds to ComfyUI (values travel between nodes as shown)."""
from __future__ import annotations

DECLIP = "DECLIP"  # declip_core.inference.DeCLIP, on the CPU, eval mode
DP_ADAPTER = "DP_ADAPTER"  # declip_core.adapter.DPAdapter, on the CPU, eval mode
PERCEPTUAL = "DECLIP_PERCEPTUAL"  # torch.Tensor (B, P), L2-normalised perceptual embeddings
SEMANTIC = "DECLIP_SEMANTIC"  # torch.Tensor (B, S), L2-normalised semantic embeddings
CATEGORY = "DeCLIP"
