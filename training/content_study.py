"""`python training/content_study.py --help`: a thin front end of declip_core/training/cli/content_study.py."""
from declip_core.training.cli.content_study import main

if __name__ == "__main__":
    raise SystemExit(main())
