"""Antonym prompt pairs for zero-shot quality in DeCLIP's perceptual space (CLIP-IQA style).

These are fixed product prompts; the phrasings used to *evaluate* zero-shot generalisation are the
separate held-out queries in declip_core.training.data.texts.heldout, never these.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

# attribute -> ((good, bad), ...): the embeddings of each side are averaged into one anchor.
TECH_PROMPTS: Mapping[str, tuple[tuple[str, str], ...]] = MappingProxyType({
    "sharpness": (("a sharp, crisp image", "a blurry image"), ("in focus and detailed", "out of focus, smeared")),
    "noise": (("a clean, noise-free image", "a noisy, grainy image"), ("smooth and clean", "full of speckles")),
    "exposure": (("a well exposed image", "a badly exposed image, too dark or too bright"),
                 ("balanced brightness", "crushed shadows or blown highlights")),
    "colour": (("natural, faithful colours", "distorted, unnatural colours"), ("true colours", "colour cast")),
    "contrast": (("good contrast", "flat, washed-out contrast"), ("punchy tones", "dull, hazy tones")),
    "compression": (("no compression artefacts", "heavy blocky compression artefacts"),
                    ("clean detail", "blocky, pixelated detail")),
})

AES_PROMPTS: Mapping[str, tuple[tuple[str, str], ...]] = MappingProxyType({
    "composition": (("a well-composed photo", "a badly composed, awkwardly cropped photo"),
                    ("balanced framing", "a tilted, cut-off frame")),
    "colour_harmony": (("rich, harmonious colours", "dull, washed-out colours"),),
    "overall": (("a beautiful, pleasing photo", "an ugly, unappealing photo"),
                ("a high quality photograph", "a low quality photograph")),
})

PROMPTS: Mapping[str, Mapping[str, tuple[tuple[str, str], ...]]] = MappingProxyType(
    {"tech": TECH_PROMPTS, "aes": AES_PROMPTS})
