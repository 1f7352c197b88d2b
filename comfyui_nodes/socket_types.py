"""Names of the socket types this pack adds to ComfyUI (values travel between nodes as shown), and their link colours."""
from __future__ import annotations

DECLIP = "DECLIP"  # declip_core.inference.DeCLIP, on the CPU, eval mode
DP_ADAPTER = "DP_ADAPTER"  # declip_core.adapter.DPAdapter, on the CPU, eval mode (.declip_sha256: its DeCLIP)
PERCEPTUAL = "DECLIP_PERCEPTUAL"  # declip_core.adapter.embedding.SourcedEmbedding: (B, P) L2-normalised + DeCLIP sha256
SEMANTIC = "DECLIP_SEMANTIC"  # declip_core.adapter.embedding.SourcedEmbedding: (B, S) L2-normalised + DeCLIP sha256
CATEGORY = "DeCLIP"

# Link colours of these types in the editor; web/declip.js holds the same table (a test checks they agree).
LINK_COLOURS = {DECLIP: "#C678DD", DP_ADAPTER: "#E5C07B", PERCEPTUAL: "#56B6C2", SEMANTIC: "#98C379"}

# The selection nodes' score and index outputs: one Python list per run (list[float] in 0..1, list[int]), so
# that Preview as Text (any input) shows the whole list; ComfyUI list outputs would run it once per value.
SCORES = "DECLIP_SCORES"
INDICES = "DECLIP_INDICES"
