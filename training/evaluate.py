"""`python training/evaluate.py --help` (also the `declip-evaluate` command): a thin front end of declip_core/training/cli/evaluate.py."""
from declip_core.training.cli.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
