"""``python -m unseen.review``: the same as ``unseen review``."""

import sys

from .cli import main

sys.exit(main())
