"""`python training/train.py --help` (also the `declip-train` command): a thin front end of declip_core/training/cli/train.py."""
from declip_core.training.cli.train import main

if __name__ == "__main__":
    raise SystemExit(main())
