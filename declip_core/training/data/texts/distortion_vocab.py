"""How each named distortion is described in words (own table; no import of the distortion code).

`attribute` is the perceptual attribute family it degrades; `direction` is "over"/"under" when the
distortion pushes the attribute past / below its natural level, "" otherwise. `adjectives` follow a
severity adverb ("noticeably blurred"); `nouns` follow a severity adjective ("mild blocking").
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

ATTRIBUTE_FAMILIES: tuple[str, ...] = (
    "sharpness", "noise", "exposure", "colour", "contrast", "compression", "artefacts",
)


@dataclass(frozen=True)
class DistortionWords:
    """Words for one distortion type."""

    attribute: str
    direction: str
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.attribute not in ATTRIBUTE_FAMILIES:
            raise ValueError(f"unknown attribute family {self.attribute!r}")
        if self.direction not in ("", "over", "under"):
            raise ValueError(f"unknown direction {self.direction!r}")
        if not self.nouns:
            raise ValueError("every distortion needs at least one noun phrase")


_W = DistortionWords
DISTORTION_WORDS: Mapping[str, DistortionWords] = MappingProxyType({
    "gaussian_blur": _W("sharpness", "under", ("blurred", "blurry", "smudged"),
                        ("blur", "blurring", "blurriness", "loss of sharpness")),
    "lens_blur": _W("sharpness", "under", ("out of focus", "defocused", "unfocused"),
                    ("defocus blur", "focus blur", "defocus")),
    "motion_blur": _W("sharpness", "under", ("motion-blurred", "shaken", "streaked by movement"),
                      ("motion blur", "shake blur", "motion streaking")),
    "high_sharpen": _W("sharpness", "over", ("oversharpened", "over-sharpened", "harshly sharpened"),
                       ("oversharpening", "edge halos", "sharpening halos")),
    "white_noise": _W("noise", "", ("noisy", "grainy"),
                      ("noise", "grain", "luminance noise", "random noise")),
    "white_noise_color": _W("noise", "", ("noisy with colour speckles", "chroma-noisy"),
                            ("colour noise", "chroma noise", "coloured grain")),
    "impulse_noise": _W("noise", "", ("speckled with stray pixels", "dotted with dead pixels"),
                        ("impulse noise", "stray on-off pixels", "scattered dead pixels")),
    "multiplicative_noise": _W("noise", "", ("speckled", "mottled"),
                               ("speckle noise", "speckle", "mottling")),
    "denoise": _W("artefacts", "", ("over-smoothed", "overly denoised", "waxy"),
                  ("denoising artefacts", "over-smoothing", "loss of fine texture")),
    "brighten": _W("exposure", "over", ("overexposed", "brightened", "blown out"),
                   ("overexposure", "blown highlights", "excess brightness")),
    "darken": _W("exposure", "under", ("underexposed", "dark", "darkened"),
                 ("underexposure", "crushed shadows", "dimness")),
    "mean_shift": _W("exposure", "over", ("brightness-shifted", "lifted in brightness", "hazily brightened"),
                     ("brightness shift", "intensity offset", "raised brightness level")),
    "color_diffusion": _W("colour", "", ("colour-bled", "smeary in colour"),
                          ("colour bleeding", "colour diffusion", "chroma bleeding")),
    "color_shift": _W("colour", "", ("colour-fringed", "misregistered"),
                      ("colour fringing", "channel misregistration", "colour misalignment")),
    "color_quantization": _W("colour", "", ("posterised", "palette-reduced"),
                             ("colour banding", "posterisation", "reduced colour palette")),
    "saturate_up": _W("colour", "over", ("oversaturated", "over-saturated", "overly vivid"),
                      ("oversaturation", "excessive saturation", "overly vivid colour")),
    "saturate_down": _W("colour", "under", ("desaturated", "washed-out", "faded"),
                        ("desaturation", "faded colour", "muted colour", "colour loss")),
    "contrast_change": _W("contrast", "under", ("low in contrast", "contrast-reduced", "lacking contrast"),
                          ("low contrast", "reduced contrast", "loss of contrast")),
    "jpeg": _W("compression", "", ("blocky", "JPEG-compressed", "compressed"),
               ("blocking", "JPEG artefacts", "compression blocks", "blockiness")),
    "jpeg2000": _W("compression", "", ("wavelet-compressed", "compression-smeared"),
                   ("ringing", "JPEG 2000 artefacts", "wavelet compression artefacts")),
    "pixelate": _W("artefacts", "", ("pixelated", "mosaicked"),
                   ("pixelation", "coarse pixel blocks", "enlarged pixel squares")),
    "quantization": _W("artefacts", "", ("tonally posterised", "false-contoured"),
                       ("banding", "false contours", "stepped tones")),
    "jitter": _W("artefacts", "", ("jittered", "pixel-scrambled"),
                 ("pixel jitter", "spatial jitter", "displaced pixels")),
    "non_eccentric_patch": _W("artefacts", "", (),
                              ("displaced blocks", "misplaced squares", "local block artefacts")),
    "color_block": _W("artefacts", "", (),
                      ("stray colour blocks", "solid colour squares", "false-colour blocks")),
})

DISTORTION_NAMES: tuple[str, ...] = tuple(DISTORTION_WORDS)
