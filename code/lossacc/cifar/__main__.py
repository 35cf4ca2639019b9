"""``python -m lossacc.cifar``: the same as the ``lossacc-train`` command."""

import sys

from lossacc.cifar.cli import main

sys.exit(main())
