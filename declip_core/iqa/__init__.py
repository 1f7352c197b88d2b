"""Image quality from DeCLIP's perceptual embedding: technical ('tech') and aesthetic ('aes').

The heads (every class of the head registry, declip_core.iqa.heads.SCORE_HEADS / ATTRIBUTE_HEADS) and the
QualityModel over them. Scoring many files: declip_core.scoring (`score_files`, `declip-score`)."""
from declip_core.iqa.heads import AttributeHead, FeatureAttributeHead, FeatureHead, GridHead, RegressionHead, ZeroShotHead
from declip_core.iqa.model import QualityModel, create_quality_model, load_quality_head, save_quality_head

__all__ = ["AttributeHead", "FeatureAttributeHead", "FeatureHead", "GridHead", "QualityModel", "RegressionHead", "ZeroShotHead",
           "create_quality_model", "load_quality_head", "save_quality_head"]
