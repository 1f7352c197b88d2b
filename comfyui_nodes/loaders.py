"""Loader nodes: a DeCLIP model and a DP-Adapter from `models/declip/` (or a weight tag)."""
from __future__ import annotations

from typing import Any

from . import socket_types as T
from .model_paths import UNUSABLE, list_checkpoints, relative_error, resolve

NO_ADAPTER = "(none in models/declip/: train one with training/train_adapter.py)"
NO_ADAPTER_HELP = (
    "No DP-Adapter is installed. A DP-Adapter is trained for one diffusion model (e.g. your SD1.5 checkpoint) and "
    "one DeCLIP checkpoint; none ships with DeCLIP. Train one with `python training/train_adapter.py` (see "
    "docs/generation.md in the DeCLIP repository) and put the .safetensors together with its .json into "
    "ComfyUI/models/declip/, then press R (refresh) in the editor. To pick the best of a batch without an "
    "adapter, use DeCLIP Best of N.")


def _choices(kind: str) -> list[str]:
    from declip_core.pretrained import list_pretrained

    return list_checkpoints(kind) + list_pretrained(kind)


class DeCLIPLoader:
    """Load a DeCLIP model (perceptual and semantic image/text embeddings)."""

    DESCRIPTION = ("Loads a DeCLIP model on the CPU. 'lite' is the model shipped with DeCLIP and works on a fresh "
                   "install; files listed before it come from ComfyUI/models/declip/ (each .safetensors needs its "
                   ".json beside it).")
    CATEGORY = T.CATEGORY
    RETURN_TYPES = (T.DECLIP,)
    RETURN_NAMES = ("declip",)
    OUTPUT_TOOLTIPS = ("The DeCLIP model: connect it to the DeCLIP encode and quality nodes.",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        choices = _choices("declip")
        return {"required": {"declip_name": (choices, {
            "default": "lite" if "lite" in choices else choices[0],
            "tooltip": "Which DeCLIP model to load. Default 'lite': the small model shipped with DeCLIP. Entries "
                       "marked 'unusable' are files in models/declip/ that cannot be loaded (choose one and run for the "
                       "reason)."})}}

    def load(self, declip_name: str) -> tuple[Any]:
        """Args: declip_name: a file listed from ComfyUI/models/declip/ (kind "declip"), a weight tag
        ("lite") or a checkpoint path.
        Returns: (DeCLIP,), frozen, on the CPU (declip_core.inference.load_declip).
        Raises: ValueError: an unusable entry, missing files, sha256 mismatch, another checkpoint kind."""
        from declip_core.inference import load_declip

        try:
            return (load_declip(resolve(declip_name), device="cpu"),)
        except ValueError as e:
            raise ValueError(relative_error(e)) from e


class DPAdapterLoader:
    """Load a DP-Adapter trained for one diffusion model family (SD1.5: 768 wide, SDXL: 2048)."""

    DESCRIPTION = ("Loads a DeCLIP DP-Adapter from ComfyUI/models/declip/. A DP-Adapter is trained for one diffusion "
                   "model and one DeCLIP model; none ships with DeCLIP: make one with training/train_adapter.py. "
                   "An empty list shows a hint.")
    CATEGORY = T.CATEGORY
    RETURN_TYPES = (T.DP_ADAPTER,)
    RETURN_NAMES = ("dp_adapter",)
    OUTPUT_TOOLTIPS = ("The DP-Adapter: connect it to DeCLIP Apply DP-Adapter.",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        choices = _choices("dp_adapter")
        if not any(not c.startswith(UNUSABLE) for c in choices):  # nothing loadable: the hint comes first
            choices = [NO_ADAPTER, *choices]
        return {"required": {"adapter_name": (choices, {
            "tooltip": "Which DP-Adapter to load from ComfyUI/models/declip/ (the .safetensors with its .json). "
                       "It must be trained for the diffusion model you sample with and for the DeCLIP model you "
                       "encode with. None ships: train one with training/train_adapter.py."})}}

    def load(self, adapter_name: str) -> tuple[Any]:
        """Args: adapter_name: a DP-Adapter checkpoint listed from ComfyUI/models/declip/ (kind "dp_adapter").
        Returns: (DPAdapter,) in eval mode on the CPU, with `declip_sha256` of the DeCLIP it was trained on.
        Raises: ValueError: nothing installed (the hint), missing files, sha256 mismatch, another kind,
        tensors that do not fit the stored config."""
        from declip_core.adapter.io import CHECKPOINT_KIND, load_adapter
        from declip_core.pretrained import resolve_checkpoint

        if adapter_name == NO_ADAPTER:
            raise ValueError(NO_ADAPTER_HELP)
        try:
            return (load_adapter(resolve_checkpoint(resolve(adapter_name), kind=CHECKPOINT_KIND), device="cpu"),)
        except ValueError as e:
            raise ValueError(relative_error(e)) from e
