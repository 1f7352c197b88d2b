"""`python training/build_i2t.py --help` (also the `declip-build-i2t` command): a thin front end of declip_core/training/cli/build_i2t.py."""
from declip_core.training.cli.build_i2t import main

if __name__ == "__main__":
    raise SystemExit(main())
