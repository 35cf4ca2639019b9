#!/usr/bin/env bash
# Build the site (if anything changed), then print the whole book to _build/pdf/book.pdf.
# Usage: bash scripts/build_pdf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build_book.sh
echo "==> printing the book to one PDF with Chromium"
.venv/bin/python scripts/build_pdf.py --site _build/html --output _build/pdf/book.pdf
