"""Where a run was made: code version (git, or the commit staged beside a copy without ``.git``), software and time."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

# Set by scripts/train_on_gpu.sh from the commit written when the tree was staged, for copies
# of the repository that travel without their .git folder.
STAGED_COMMIT_VARIABLE = "LOSSACC_STAGED_COMMIT"
STAGED_DIRTY_VARIABLE = "LOSSACC_STAGED_COMMIT_DIRTY"


def software_versions() -> dict[str, Any]:
    """Python, NumPy, torch and CUDA versions and the platform."""
    import numpy as np
    import torch

    return {
        "torch_version": str(torch.__version__),
        "cuda_version": torch.version.cuda,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
    }


def code_version() -> dict[str, Any]:
    """``commit`` and ``commit_dirty`` (tracked files differ) of the checkout holding this package,
    from git when the checkout has its ``.git``, else from the staged commit; ``commit_source`` says which."""
    commit, dirty = git_commit(Path(__file__).resolve().parent)
    if commit is not None:
        return {"commit": commit, "commit_dirty": dirty, "commit_source": "git"}
    staged = os.environ.get(STAGED_COMMIT_VARIABLE)
    if staged:
        return {
            "commit": staged,
            "commit_dirty": os.environ.get(STAGED_DIRTY_VARIABLE) == "true",
            "commit_source": "staged",
        }
    return {"commit": None, "commit_dirty": None, "commit_source": None}


def git_commit(folder: Path) -> tuple[str | None, bool | None]:
    """``git rev-parse HEAD`` of the checkout holding ``folder``, and whether tracked files differ."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit, bool(status.strip())


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
