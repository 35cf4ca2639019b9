#!/usr/bin/env bash
# Set up and build the whole book into _build/html, executing every notebook.
# Usage: bash scripts/build_book.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# Notebooks execute as their pages are rendered, and Sphinx re-renders only the pages whose
# source changed. The library (and the JavaScript of its explorers) is not a page: when it
# changes, every page is rendered, and so executed, again.
library_hash=$(find code -type f \( -name '*.py' -o -name '*.js' -o -name '*.css' \) -print0 | sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1)
rebuild_all=()
if [ "$(cat _build/.library.sha256 2>/dev/null)" != "$library_hash" ]; then
  rebuild_all=(--all)
fi

echo "==> building the book (warnings are errors)"
.venv/bin/jupyter-book build . --warningiserror --nitpick --keep-going "${rebuild_all[@]}"
mkdir -p _build && echo "$library_hash" > _build/.library.sha256
echo "==> done: open _build/html/index.html"
