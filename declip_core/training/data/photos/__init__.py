"""The photo collection: real photographs from installable packages, their crops and split (see
docs/photos.md). `gather` builds it; `read_crops` reads it back."""
from declip_core.training.data.photos.collect import GatherConfig, gather, read_crops
from declip_core.training.data.photos.reserved import (
    RESERVED_PACKAGES,
    ReservedSourceError,
)

__all__ = ["RESERVED_PACKAGES", "GatherConfig", "ReservedSourceError", "gather", "read_crops"]
