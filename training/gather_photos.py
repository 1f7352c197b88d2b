#!/usr/bin/env python
"""Gather the photo collection (see declip_core.training.cli.gather_photos)."""
from declip_core.training.cli.gather_photos import main

raise SystemExit(main())
