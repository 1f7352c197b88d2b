"""`python training/ship_weights.py --help`: a thin front end of declip_core/training/cli/ship_weights.py."""
from declip_core.training.cli.ship_weights import main

if __name__ == "__main__":
    raise SystemExit(main())
