"""`python training/reproduce.py --help` (`make weights`, `make bench`): a thin front end of declip_core/training/cli/reproduce.py."""
from declip_core.training.cli.reproduce import main

if __name__ == "__main__":
    raise SystemExit(main())
