"""Save the pixels of the confirmed CIFAR-10 test label errors from the book's JPEG copy.

    python scripts/extract_label_error_images.py PATH/TO/cifar10-jpeg.tar.gz

writes ``assets/label-errors/cifar10_jpeg_confirmed_errors.npz`` (``official_index``,
``images``), so that the book shows them without the archive.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from lossacc.cifar.data import load_cifar10
from lossacc.label_errors import IMAGES_FILE, LABEL_ERRORS_DIR, load_flagged, load_official_labels, test_images_at


def main(archive: str) -> None:
    with tempfile.TemporaryDirectory() as cache:
        data = load_cifar10(archive, Path(cache), progress=False)
    flagged = load_flagged()
    official = flagged.official_index[flagged.confirmed]
    images = test_images_at(data, official, load_official_labels())
    np.savez_compressed(LABEL_ERRORS_DIR / IMAGES_FILE, official_index=official.astype(np.int32), images=images)
    print(f"{len(official)} images -> {LABEL_ERRORS_DIR / IMAGES_FILE}")


if __name__ == "__main__":
    main(sys.argv[1])
