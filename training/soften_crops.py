#!/usr/bin/env python
"""Soft copies of collected crops (see declip_core.training.cli.soften_crops)."""
from declip_core.training.cli.soften_crops import main

if __name__ == "__main__":
    raise SystemExit(main())
