"""`python -m nmt` runs the command line (also what `torchrun -m nmt` starts)."""

import sys

from nmt.cli import main

sys.exit(main())
