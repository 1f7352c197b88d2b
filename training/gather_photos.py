#!/usr/bin/env python
"""Gather the photo collection (see declip_core.training.cli.gather_photos)."""
from declip_core.training.cli.gather_photos import main

if __name__ == "__main__":  # guard: worker processes are spawned and re-import this file
    raise SystemExit(main())
