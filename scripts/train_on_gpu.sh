#!/usr/bin/env bash
# Train the book's full recipe on a GPU machine that has PyTorch and nothing else: no venv, no
# install, no network. Uses the Python it finds: the checkout's .venv if there is one, else
# python3 (set PYTHON to choose another).
#
#   on your machine, in the git checkout:  bash scripts/train_on_gpu.sh stage ARCHIVE
#   on the GPU machine, from the copy:     bash scripts/train_on_gpu.sh start
#                                          bash scripts/train_on_gpu.sh poll OUT_FOLDER --wait 540
#
# `bash scripts/train_on_gpu.sh --help` explains each step; README.md, "Training the full recipe on a GPU".
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# The repository's .venv when it has one (your machine), else the machine's python3 (the GPU machine).
if [ -z "${PYTHON:-}" ] && [ -x "$root/.venv/bin/python" ]; then PYTHON="$root/.venv/bin/python"; fi
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "train_on_gpu: error: no $PYTHON on this machine's PATH (set PYTHON=/path/to/python3)" >&2
  exit 1
fi
export PYTHONPATH="$root/code${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" "$root/scripts/train_on_gpu.py" "$@"
