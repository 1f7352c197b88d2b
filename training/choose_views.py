"""`python training/choose_views.py --help` (also the `declip-choose-views` command): a thin front end of declip_core/training/cli/choose_views.py."""
from declip_core.training.cli.choose_views import main

if __name__ == "__main__":
    raise SystemExit(main())
