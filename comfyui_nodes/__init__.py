"""DeCLIP nodes for ComfyUI: quality scores, best-of-N selection and perceptual conditioning (DP-Adapter).

Install: place or symlink this folder in ComfyUI's custom_nodes/, make `declip_core` importable
in ComfyUI's Python (pip install the DeCLIP repo, or put it on PYTHONPATH); extra checkpoints go in
ComfyUI's models/declip/. `web/` holds the frontend extension (scores on the node, link colours);
`example_workflows/` the templates ComfyUI lists. Imports without ComfyUI (for tests); see README.md.
"""
from __future__ import annotations

from .apply import DPAdapterApply
from .encode import DeCLIPImageEncode, DeCLIPPhraseEncode
from .loaders import DeCLIPLoader, DPAdapterLoader
from .model_paths import register_model_folder
from .quality import DeCLIPBestOfN, DeCLIPQualityFilter, DeCLIPQualityScore

register_model_folder()  # adds models/declip/ when running inside ComfyUI; nothing otherwise

WEB_DIRECTORY = "./web"  # ComfyUI serves these .js files to the editor as a frontend extension

NODE_CLASS_MAPPINGS = {
    "DeCLIPLoader": DeCLIPLoader,
    "DPAdapterLoader": DPAdapterLoader,
    "DeCLIPImageEncode": DeCLIPImageEncode,
    "DeCLIPPhraseEncode": DeCLIPPhraseEncode,
    "DPAdapterApply": DPAdapterApply,
    "DeCLIPQualityScore": DeCLIPQualityScore,
    "DeCLIPBestOfN": DeCLIPBestOfN,
    "DeCLIPQualityFilter": DeCLIPQualityFilter,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "DeCLIPLoader": "DeCLIP Loader",
    "DPAdapterLoader": "DeCLIP DP-Adapter Loader",
    "DeCLIPImageEncode": "DeCLIP Encode Image",
    "DeCLIPPhraseEncode": "DeCLIP Encode Perceptual Phrase",
    "DPAdapterApply": "DeCLIP Apply DP-Adapter",
    "DeCLIPQualityScore": "DeCLIP Quality Score",
    "DeCLIPBestOfN": "DeCLIP Best of N",
    "DeCLIPQualityFilter": "DeCLIP Quality Filter",
}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
