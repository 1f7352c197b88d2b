"""`python training/train_iqa.py --help` (also the `declip-train-iqa` command): a thin front end of declip_core/training/cli/train_iqa.py."""
from declip_core.training.cli.train_iqa import main

if __name__ == "__main__":
    raise SystemExit(main())
