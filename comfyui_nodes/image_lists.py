"""ComfyUI list inputs of IMAGE batches (e.g. Load Image Dataset from Folder: one (1, H, W, C) per file, of
mixed sizes) as one numbered collection, and the picked images back as ComfyUI outputs.

An image's number is its position over the whole input: list items in order, each item's batch in order
(item 0's images first). Items of 0 images add nothing.
"""
from __future__ import annotations

from typing import Any

import torch

EMPTY_HINT = ("the node before it passed on no images (for example a DeCLIP Quality Filter set to stop when "
              "nothing reaches its threshold, or an empty folder)")


def as_batches(images: Any) -> list[torch.Tensor]:
    """An IMAGE or a list of IMAGEs (ComfyUI's list input) -> the list of non-empty (B_i, H_i, W_i, C_i) batches.

    Raises ValueError: nothing to choose from (every item empty or the list empty), or an item that is not an
    IMAGE tensor (B, H, W, C).
    """
    items = images if isinstance(images, (list, tuple)) else [images]
    batches = []
    for n, item in enumerate(items):
        if not isinstance(item, torch.Tensor) or item.ndim != 4:
            shape = tuple(item.shape) if isinstance(item, torch.Tensor) else type(item).__name__
            raise ValueError(f"images item {n}: expected an IMAGE (B, H, W, C), got {shape}")
        if item.shape[0] > 0:
            batches.append(item)
    if not batches:
        shapes = [tuple(i.shape) for i in items]
        raise ValueError(f"no images to choose from (got {len(items)} empty IMAGE item(s) {shapes[:3]}): {EMPTY_HINT}. "
                         "Lower that filter's threshold or set its if_none_pass to 'keep the best one'")
    return batches


def image_at(batches: list[torch.Tensor], index: int) -> torch.Tensor:
    """The image numbered `index` over all batches, as (1, H, W, C)."""
    for b in batches:
        if index < b.shape[0]:
            return b[index:index + 1]
        index -= b.shape[0]
    raise IndexError(f"image {index} is beyond the {sum(b.shape[0] for b in batches)} images")


def sizes(batches: list[torch.Tensor]) -> list[tuple[int, int]]:
    """(H, W) of every image, in numbering order."""
    return [(int(b.shape[1]), int(b.shape[2])) for b in batches for _ in range(b.shape[0])]


def pack(picked: list[torch.Tensor]) -> list[torch.Tensor]:
    """Picked (1, H, W, C) images -> a ComfyUI list output: [one batch] when all share shape and dtype (the
    next node runs once), else one item per image (ComfyUI runs the next node once per image)."""
    if len({(tuple(p.shape[1:]), p.dtype) for p in picked}) == 1:
        return [torch.cat(picked, dim=0)]
    return list(picked)
