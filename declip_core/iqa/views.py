"""Moved to `declip_core.views` (view policies are a floor below the heads); this name re-exports it for old imports."""
from declip_core.views import (
    LAYOUTS,
    POLICIES,
    ViewPolicy,
    crop_boxes,
    crop_side,
    fragment_mosaic,
    fragment_starts,
    make_views,
    mean_over_views,
    n_views,
    pil_fragment_mosaic,
)

__all__ = ["LAYOUTS", "POLICIES", "ViewPolicy", "crop_boxes", "crop_side", "fragment_mosaic", "fragment_starts",
           "make_views", "mean_over_views", "n_views", "pil_fragment_mosaic"]
