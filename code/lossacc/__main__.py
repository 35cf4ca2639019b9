"""``python -m lossacc``: the same as the ``lossacc`` command."""

import sys

from lossacc.cli import main

sys.exit(main())
