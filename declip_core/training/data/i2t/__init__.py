"""Building I&2T sets (Image, perceptual Text, semantic Text) offline."""
from declip_core.training.data.i2t.build import BuildConfig, BuildSummary, build_i2t

__all__ = ["BuildConfig", "BuildSummary", "build_i2t"]
