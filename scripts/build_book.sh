#!/usr/bin/env bash
# Set up and build the whole book into _build/html, executing every notebook.
# Re-running rebuilds only the pages whose notebook, library code, records or installed
# packages changed (_ext/page_dependencies.py); the rest is served from _build.
# Usage: bash scripts/build_book.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "==> building the book (warnings are errors)"
.venv/bin/jupyter-book build . --warningiserror --nitpick --keep-going
echo "==> done: open _build/html/index.html"
