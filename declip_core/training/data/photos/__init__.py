"""The photo collection: real photographs from installable packages, their crops and split (see
docs/photos.md). `gather` builds it; `read_crops` reads it back."""
from declip_core.training.data.photos.collect import GatherConfig, gather, read_crops
from declip_core.training.data.photos.reserved import RESERVED_PACKAGES, ReservedSourceError

__all__ = ["GatherConfig", "RESERVED_PACKAGES", "ReservedSourceError", "gather", "read_crops"]
