"""DeCLIP nodes for ComfyUI: perceptual conditioning (DP-Adapter) and quality scores.

Install: place or symlink this folder in ComfyUI's custom_nodes/, make `declip_core` importable
in ComfyUI's Python (pip install the DeCLIP repo, or put it on PYTHONPATH), and put checkpoints in
ComfyUI's models/declip/. Imports without ComfyUI (for tests); see README.md.
"""
from __future__ import annotations

from .apply import DPAdapterApply
from .encode import DeCLIPImageEncode, DeCLIPPhraseEncode
from .loaders import DeCLIPLoader, DPAdapterLoader
from .model_paths import register_model_folder
from .quality import DeCLIPQualityScore

register_model_folder()  # adds models/declip/ when running inside ComfyUI; nothing otherwise

NODE_CLASS_MAPPINGS = {
    "DeCLIPLoader": DeCLIPLoader,
    "DPAdapterLoader": DPAdapterLoader,
    "DeCLIPImageEncode": DeCLIPImageEncode,
    "DeCLIPPhraseEncode": DeCLIPPhraseEncode,
    "DPAdapterApply": DPAdapterApply,
    "DeCLIPQualityScore": DeCLIPQualityScore,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "DeCLIPLoader": "DeCLIP Loader",
    "DPAdapterLoader": "DP-Adapter Loader",
    "DeCLIPImageEncode": "DeCLIP Encode Image",
    "DeCLIPPhraseEncode": "DeCLIP Encode Perceptual Phrase",
    "DPAdapterApply": "Apply DP-Adapter (perceptual conditioning)",
    "DeCLIPQualityScore": "DeCLIP Quality Score",
}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
