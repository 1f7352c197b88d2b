"""`python training/eval_iqa.py --help` (also the `declip-eval-iqa` command): a thin front end of declip_core/training/cli/eval_iqa.py."""
from declip_core.training.cli.eval_iqa import main

if __name__ == "__main__":
    raise SystemExit(main())
