#!/usr/bin/env python
"""Add FR pseudo-MOS labels to a built I&2T set (see declip_core.training.cli.label_fr)."""
from declip_core.training.cli.label_fr import main

if __name__ == "__main__":  # guard: worker processes are spawned and re-import this file
    raise SystemExit(main())
