"""`python training/make_contact_sheet.py --help`: a thin front end of declip_core/training/cli/make_contact_sheet.py."""
from declip_core.training.cli.make_contact_sheet import main

if __name__ == "__main__":
    raise SystemExit(main())
