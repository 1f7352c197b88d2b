"""Words and phrases that describe image quality, never content; semantic texts must not carry them."""
from __future__ import annotations

import re

# Single lowercase tokens (texts are compared on alphanumeric tokens: 'low-quality' -> low, quality).
QUALITY_WORDS: frozenset[str] = frozenset({
    # sharpness / focus
    "blur", "blurs", "blurry", "blurrier", "blurred", "blurring", "blurriness", "unsharp", "sharp", "sharper",
    "sharpest", "sharply", "sharpness", "sharpened", "oversharpened", "crisp", "focus", "focused", "unfocused",
    "defocus", "defocused", "fuzzy", "smeared", "smudged", "shaky",
    # noise
    "noise", "noisy", "noisier", "grain", "grainy", "grained", "speckled", "denoised",
    # compression / resolution
    "jpeg", "jpg", "compressed", "compression", "artifact", "artifacts", "artefact", "artefacts",
    "pixelated", "pixellated", "pixelized", "pixelation", "blocky", "blockiness", "banding", "posterized",
    "posterised", "quality", "resolution", "lowres", "hires", "hd", "hdr", "4k", "8k", "distorted", "distortion",
    # exposure
    "overexposed", "underexposed", "overexposure", "underexposure", "exposure", "exposed", "dark", "darker",
    "darkest", "darkened", "bright", "brighter", "brightest", "brightened", "brightness", "dim", "dimly",
    # colour / contrast
    "saturated", "oversaturated", "desaturated", "saturation", "washed", "faded", "hazy", "vivid", "dull",
    "muted", "grayscale", "greyscale", "monochrome", "contrast", "contrasty",
})

# Multi-word quality expressions whose other words are not quality words on their own
# ("low light", "poorly lit"); spaces also match hyphens.
QUALITY_PHRASES: tuple[str, ...] = (
    "out of focus", "in focus", "low light", "camera shake", "poorly lit", "badly lit", "well lit", "dimly lit",
    "washed out", "blown out", "colour cast", "color cast",
)
QUALITY_PHRASE_RE = re.compile(
    r"\b(?:" + "|".join(r"[\s-]+".join(map(re.escape, p.split())) for p in QUALITY_PHRASES) + r")\b",
    re.IGNORECASE,
)

# Degree and judgement words that only qualify a following quality word ("very blurry", "low quality").
QUALITY_MODIFIERS: frozenset[str] = frozenset({
    "very", "slightly", "extremely", "somewhat", "quite", "really", "rather", "too", "overly", "highly",
    "heavily", "badly", "super", "so", "fairly", "pretty", "bit", "little", "kind", "sort", "poorly", "well",
    "low", "high", "heavy", "strong", "slight", "mild", "severe", "extreme", "some", "much", "lots", "lot",
    "bad", "good", "poor", "great", "excellent", "terrible", "awful", "ultra", "over", "under", "motion",
    "full", "best", "worst", "top", "more", "less", "most", "least",
})
