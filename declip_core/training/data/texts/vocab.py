"""Shared perceptual vocabulary: severity words, nouns for 'the picture', clean-image words.

Level 1 = just visible, 5 = severe. Adverbs modify adjectives ("noticeably blurred");
adjectives modify nouns ("mild blocking"). None of these words may name image content.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)

LEVEL_ADVERBS: Mapping[int, tuple[str, ...]] = MappingProxyType({
    1: ("slightly", "faintly", "barely", "marginally", "just perceptibly"),
    2: ("mildly", "lightly", "somewhat", "a bit"),
    3: ("noticeably", "moderately", "visibly", "fairly"),
    4: ("strongly", "heavily", "markedly", "very"),
    5: ("severely", "extremely", "badly", "intensely"),
})

LEVEL_ADJECTIVES: Mapping[int, tuple[str, ...]] = MappingProxyType({
    1: ("slight", "faint", "barely visible", "subtle"),
    2: ("mild", "light", "minor", "modest"),
    3: ("noticeable", "moderate", "evident", "obvious"),
    4: ("strong", "heavy", "pronounced", "marked"),
    5: ("severe", "extreme", "intense", "overwhelming"),
})

# Ways to refer to the picture itself (never to what it shows).
PHOTO_NOUNS: tuple[str, ...] = ("photo", "image", "picture", "photograph", "shot")
LOOK_VERBS: tuple[str, ...] = ("looks", "appears", "is", "seems")

# Clean (undistorted) images. Prenominal adjectives work before a noun ("a sharp, noise-free photo");
# predicates follow a verb ("the image is free of noise").
CLEAN_ADJECTIVES: tuple[str, ...] = (
    "clean", "sharp", "well-exposed", "noise-free", "undistorted", "artefact-free",
    "in-focus", "pristine", "properly exposed", "well-focused", "high-fidelity",
)
CLEAN_PREDICATES: tuple[str, ...] = (
    "free of noise", "free of visible artefacts", "without any visible distortion",
    "in focus", "well exposed", "cleanly rendered", "free of compression artefacts",
    "sharp throughout", "evenly exposed",
)
CLEAN_SUMMARIES: tuple[str, ...] = (
    "no visible distortion", "no visible artefacts", "no quality problems",
    "no noise, blur or compression artefacts", "no trace of degradation",
)
