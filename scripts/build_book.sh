#!/usr/bin/env bash
# Set up and build the whole book into _build/html, executing every notebook.
# Usage: bash scripts/build_book.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# The execution cache is keyed on notebook code only: when the library (or the JavaScript
# of its explorers) changes, cached outputs would be stale, so drop them.
cache=_build/.jupyter_cache
library_hash=$(find code -type f \( -name '*.py' -o -name '*.js' -o -name '*.css' \) -print0 | sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1)
if [ "$(cat _build/.library.sha256 2>/dev/null)" != "$library_hash" ]; then
  rm -rf "$cache"
fi

echo "==> building the book (warnings are errors)"
.venv/bin/jupyter-book build . --warningiserror --nitpick --keep-going
mkdir -p _build && echo "$library_hash" > _build/.library.sha256
echo "==> done: open _build/html/index.html"
