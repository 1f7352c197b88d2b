"""Constants shared by the inference API and its front doors (pyiqa plugin, ComfyUI nodes): the one place
where metric names, quality attributes, checkpoint kinds and score ranges are declared. Import-light
(no torch): the pyiqa hook and the ComfyUI node pack read it at start-up."""
from __future__ import annotations

METRICS: tuple[str, ...] = ("tech", "aes")  # technical quality; 'aes': the aesthetic head (shipped: zero-shot antonym prompts, not an aesthetic model in the AVA sense: docs/weights.md)
# the technical-quality attributes scored zero-shot (keys of declip_core.iqa.prompts.TECH_PROMPTS)
ATTRIBUTES: tuple[str, ...] = ("sharpness", "noise", "exposure", "colour", "contrast", "compression")
# the aesthetic attributes of declip_aes (AADB names; the groups of declip_core.training.data.aesthetic_edits)
AES_ATTRIBUTES: tuple[str, ...] = ("composition", "lighting", "colour_harmony")
ZERO_SHOT_HEAD = "zeroshot"  # the head built from antonym prompts, needs no trained weights
HEAD_KIND = "iqa_head"  # checkpoint kind of a quality head
DECLIP_KIND = "declip"  # checkpoint kind of a DeCLIP disentangler

# every score of a QualityModel: a float in SCORE_RANGE (inclusive), higher is better
SCORE_RANGE: tuple[float, float] = (0.0, 1.0)
LOWER_BETTER = False

PYIQA_PREFIX = "declip_"  # pyiqa metric names: declip_tech, declip_aes, declip_<attribute>
