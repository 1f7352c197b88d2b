"""`python training/train_adapter.py --help` (also the `declip-train-adapter` command): a thin front end of declip_core/training/cli/train_adapter.py."""
from declip_core.training.cli.train_adapter import cli

if __name__ == "__main__":
    raise SystemExit(cli())
