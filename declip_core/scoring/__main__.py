import sys

from declip_core.scoring.cli import main

sys.exit(main())
