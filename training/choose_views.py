#!/usr/bin/env python
"""Choose declip_tech's view policy on validation photos (see declip_core/training/cli/choose_views.py)."""
from declip_core.training.cli.choose_views import main

raise SystemExit(main())
