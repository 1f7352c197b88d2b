"""Shared fixtures. Everything here is offline."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def lite_backbone():
    from declip_core.backbones import create_backbone

    return create_backbone("lite")


@pytest.fixture(scope="session")
def sample_rgb():
    """A few sample photos as RGB uint8 arrays, by name."""
    from declip_core.samples import sample_path

    out = {}
    for n in ("chelsea", "coffee", "astronaut"):
        with Image.open(sample_path(n)) as im:
            out[n] = np.asarray(im.convert("RGB"))
    return out
