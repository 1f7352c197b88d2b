"""`python training/rerun_spread.py --help`: a thin front end of declip_core/training/cli/rerun_spread.py."""
from declip_core.training.cli.rerun_spread import main

if __name__ == "__main__":
    raise SystemExit(main())
