"""python -m fastembed.cli, and torchrun -m fastembed.cli pretrain ... on every rank."""

import sys

from . import main

if __name__ == "__main__":   # not on import (the docs test imports every module)
    sys.exit(main())
