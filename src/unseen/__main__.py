"""``python -m unseen``: the same as the ``unseen`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
