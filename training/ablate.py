"""`python training/ablate.py --help`: a thin front end of declip_core/training/cli/ablate.py."""
from declip_core.training.cli.ablate import main

if __name__ == "__main__":
    raise SystemExit(main())
