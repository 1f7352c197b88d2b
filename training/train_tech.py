"""`python training/train_tech.py --help` (also the `declip-train-tech` command): a thin front end of declip_core/training/cli/train_tech.py."""
from declip_core.training.cli.train_tech import main

if __name__ == "__main__":
    raise SystemExit(main())
