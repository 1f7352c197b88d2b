"""Held-out zero-shot perceptual queries: (good, bad) antonym phrasings per attribute family.

Every phrasing uses at least one word the training-text generators never use (tested), so
zero-shot evaluation and IQA antonym prompts cannot be matched by memorised training sentences.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ._grammar import with_article

# Antonym adjectives (good, bad) per family; each works before a noun and after a verb.
HELDOUT_ANTONYMS: Mapping[str, tuple[tuple[str, str], ...]] = MappingProxyType({
    "sharpness": (
        ("crisp", "fuzzy"), ("well-defined", "indistinct"), ("tack-sharp", "mushy"),
        ("finely resolved", "smudgy"), ("razor-edged", "woolly"), ("pin-sharp", "bleary"),
        ("clearly delineated", "hazy"),
    ),
    "noise": (
        ("noiseless", "staticky"), ("smooth-toned", "gritty"), ("speck-free", "flecked"),
        ("immaculate", "sandpapery"), ("velvety", "fizzy"), ("low-ISO", "high-ISO"),
        ("spotless", "blotchy"),
    ),
    "exposure": (
        ("well-metered", "murky"), ("evenly lit", "gloomy"), ("correctly metered", "glaring"),
        ("naturally lit", "shadowy"), ("luminous", "burnt-out"), ("well-judged", "inky"),
        ("nicely lit", "blinding"),
    ),
    "colour": (
        ("true-to-life", "sickly-tinted"), ("naturally hued", "off-hued"), ("lifelike", "bleached"),
        ("richly chromatic", "drained"), ("faithfully coloured", "discoloured"), ("well-graded", "garish"),
        ("colour-accurate", "tinged"),
    ),
    "contrast": (
        ("punchy", "lifeless"), ("vigorously contrasted", "muddy"), ("snappy", "insipid"),
        ("dynamic", "listless"), ("deep-toned", "foggy"), ("well-separated", "wan"), ("bold", "tepid"),
    ),
    "compression": (
        ("losslessly stored", "macroblocked"), ("full-bitrate", "low-bitrate"),
        ("uncompressed-looking", "bit-starved"), ("cleanly encoded", "codec-mangled"),
        ("transparently encoded", "edge-buzzy"), ("archival-grade", "heavily quantised"),
        ("first-generation", "repeatedly re-saved"),
    ),
})

# Sentence frames never used by the generators; "{}" takes one adjective.
HELDOUT_FRAMES: tuple[str, ...] = (
    "{a} photograph", "this picture is {}", "an image that looks {}", "{a} snapshot", "the shot came out {}",
)


def _fill(frame: str, adj: str) -> str:
    return frame.replace("{a}", with_article(adj)) if "{a}" in frame else frame.format(adj)


def _build() -> Mapping[str, tuple[tuple[str, str], ...]]:
    return MappingProxyType({
        family: tuple((_fill(f, good), _fill(f, bad)) for good, bad in pairs for f in HELDOUT_FRAMES)
        for family, pairs in HELDOUT_ANTONYMS.items()
    })


HELDOUT_QUERIES: Mapping[str, tuple[tuple[str, str], ...]] = _build()
