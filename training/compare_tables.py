"""`python training/compare_tables.py --help`: a thin front end of declip_core/training/cli/compare_tables.py."""
from declip_core.training.cli.compare_tables import main

if __name__ == "__main__":
    raise SystemExit(main())
