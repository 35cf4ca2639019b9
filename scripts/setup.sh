#!/usr/bin/env bash
# Set up everything the book needs in ./.venv (idempotent: re-running is quick).
# Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "error: the book needs Python 3.10 or newer ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
# Re-install only when the requirements, their lock or pyproject.toml changed since the last
# set-up. requirements-lock.txt pins every package requirements.txt pulls in (regenerate it
# with scripts/refresh_lock.sh after changing requirements.txt).
stamp=.venv/.requirements.sha256
wanted=$(cat requirements.txt requirements-lock.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "==> installing requirements into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements.txt -c requirements-lock.txt
  .venv/bin/python -m pip install --quiet --no-deps -e .
  echo "$wanted" > "$stamp"
fi
