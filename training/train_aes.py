"""`python training/train_aes.py --help` (also the `declip-train-aes` command): a thin front end of declip_core/training/cli/train_aes.py."""
from declip_core.training.cli.train_aes import main

if __name__ == "__main__":
    raise SystemExit(main())
