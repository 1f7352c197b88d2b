"""`python training/make_data_card.py --help`: a thin front end of declip_core/training/cli/make_data_card.py."""
from declip_core.training.cli.make_data_card import main

if __name__ == "__main__":
    raise SystemExit(main())
