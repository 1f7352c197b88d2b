"""`python training/train_control_demo.py --help` (also the `declip-train-control-demo` command): a thin front end of declip_core/training/cli/train_control_demo.py."""
from declip_core.training.cli.train_control_demo import cli

if __name__ == "__main__":
    raise SystemExit(cli())
