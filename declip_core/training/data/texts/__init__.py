"""Training texts: perceptual (how an image looks) and semantic (what it shows) descriptions.

Perceptual generators take a seeded numpy Generator and vary their wording; none names content.
Semantic captioners never carry quality words.
"""
from __future__ import annotations

from .aesthetic import aesthetic_text
from .attribute_text import perceptual_text_from_attributes
from .attributes import ATTRIBUTE_THRESHOLDS, Attributes, bucket_attributes, measure_attributes
from .clean_caption import clean_semantic_text
from .distortion_text import clean_image_text, perceptual_text_from_distortions
from .heldout import HELDOUT_QUERIES
from .mos_text import mos_bucket, perceptual_text_from_mos
from .perceptual_vocab import PERCEPTUAL_VOCAB, vocabulary_phrases
from .quality_words import QUALITY_WORDS
from .semantic import Captioner, LabelCaptioner, UserCaptions, ZeroShotCaptioner, label_sentence

__all__ = [
    "ATTRIBUTE_THRESHOLDS",
    "HELDOUT_QUERIES",
    "PERCEPTUAL_VOCAB",
    "QUALITY_WORDS",
    "Attributes",
    "Captioner",
    "LabelCaptioner",
    "UserCaptions",
    "ZeroShotCaptioner",
    "aesthetic_text",
    "bucket_attributes",
    "clean_image_text",
    "clean_semantic_text",
    "label_sentence",
    "measure_attributes",
    "mos_bucket",
    "perceptual_text_from_attributes",
    "perceptual_text_from_distortions",
    "perceptual_text_from_mos",
    "vocabulary_phrases",
]
