#!/usr/bin/env bash
# Set up, check lint (ruff) and types (mypy), then run the whole test suite: library,
# notebooks, site build, offline browser test. Configuration of all three: pyproject.toml.
# Usage: bash scripts/run_tests.sh [extra pytest arguments]
#        bash scripts/run_tests.sh -m "not slow"   # the fast tier: no book build, browser or training
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# The browser test drives Debian's chromium (never a downloaded browser build).
if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing Debian's chromium for the browser test"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "error: /usr/bin/chromium is missing and this user cannot install it; run: apt-get install chromium" >&2
    exit 1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

echo "==> ruff"
.venv/bin/ruff check
echo "==> mypy"
.venv/bin/mypy
echo "==> pytest"
.venv/bin/python -m pytest "$@"
