#!/usr/bin/env bash
# Train the book's full recipe on a GPU machine that has PyTorch and nothing else: no venv, no
# install, no network. Uses the Python it finds (set PYTHON to choose another).
#
#   on your machine, in the git checkout:  bash scripts/train_on_gpu.sh stage ARCHIVE
#   on the GPU machine, from the copy:     bash scripts/train_on_gpu.sh start
#                                          bash scripts/train_on_gpu.sh poll OUT_FOLDER --wait 540
#
# `bash scripts/train_on_gpu.sh --help` explains each step; README.md, "Training the full recipe on a GPU".
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "train_on_gpu: error: no $PYTHON on this machine's PATH (set PYTHON=/path/to/python3)" >&2
  exit 1
fi
export PYTHONPATH="$root/code${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" "$root/scripts/train_on_gpu.py" "$@"
