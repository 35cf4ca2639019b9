"""Refresh the JavaScript files the built site serves itself, from the npm registry.

The site must work offline, so the widget embedder and the anywidget front-end are
copied into ``assets/vendor/npm/<package>@<version>/`` (the layout of a public npm CDN)
together with each package's license. Run after changing a pinned version below:

    python scripts/vendor_web_assets.py

Needs ``npm`` on the PATH. MathJax is served by the ``sphinx-mathjax-offline`` package.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR_ROOT = Path(__file__).resolve().parent.parent / "assets" / "vendor" / "npm"

# package name -> (pinned version, files to keep, relative to the package root)
PINNED_PACKAGES: dict[str, tuple[str, list[str]]] = {
    "requirejs": ("2.3.8", ["require.js"]),  # its MIT license is in the file header
    # The embedder and the icon font its style sheet asks for (Font Awesome's solid face).
    "@jupyter-widgets/html-manager": ("1.0.6", ["dist/embed-amd.js", "dist/1551f4f60c37af51121f.woff2", "LICENSE"]),
    # Must match the Python anywidget version pinned in requirements.txt.
    "anywidget": ("0.11.0", ["dist/index.js", "LICENSE"]),
}


def vendor_package(name: str, version: str, files: list[str], workdir: Path) -> None:
    """Download ``name@version`` with ``npm pack`` and copy ``files`` under VENDOR_ROOT."""
    subprocess.run(
        ["npm", "pack", "--silent", f"{name}@{version}"], cwd=workdir, check=True, stdout=subprocess.PIPE
    )
    tarball = next(workdir.glob(f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"))
    target = VENDOR_ROOT / f"{name}@{version}"
    if target.exists():
        shutil.rmtree(target)
    with tarfile.open(tarball) as archive:
        for relative in files:
            member = archive.extractfile(f"package/{relative}")
            if member is None:
                raise SystemExit(f"{name}@{version} has no file {relative}")
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(member.read())
    print(f"vendored {name}@{version}: {', '.join(files)}")


def main() -> int:
    if shutil.which("npm") is None:
        print("error: npm is not on the PATH", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, files) in PINNED_PACKAGES.items():
            vendor_package(name, version, files, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
