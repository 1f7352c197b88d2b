"""Image quality from DeCLIP's perceptual embedding: technical ('tech') and aesthetic ('aes')."""
from declip_core.iqa.heads import AttributeHead, RegressionHead, ZeroShotHead
from declip_core.iqa.model import QualityModel, create_quality_model, load_quality_head, save_quality_head

__all__ = ["AttributeHead", "QualityModel", "RegressionHead", "ZeroShotHead", "create_quality_model", "load_quality_head",
           "save_quality_head"]
