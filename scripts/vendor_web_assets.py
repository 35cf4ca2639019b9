"""Refresh the JavaScript files the built site serves itself, from the npm registry.

The site must work offline, so the widget embedder and the anywidget front-end are
copied into ``assets/vendor/npm/<package>@<version>/`` (the layout of a public npm CDN)
together with each package's license. The versions and files are those of the table in
``_ext/web_assets.py``; run after changing it:

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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))
from web_assets import PACKAGES, WebPackage  # noqa: E402  (the table lives next to the extension)


def vendor_package(package: WebPackage, workdir: Path) -> None:
    """Download the package with ``npm pack`` and copy its files to ``assets/<its folder>``."""
    name, version = package.name, package.version
    subprocess.run(
        ["npm", "pack", "--silent", f"{name}@{version}"], cwd=workdir, check=True, stdout=subprocess.PIPE
    )
    tarball = next(workdir.glob(f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"))
    target = ROOT / "assets" / package.folder
    if target.exists():
        shutil.rmtree(target)
    with tarfile.open(tarball) as archive:
        for relative in package.files:
            member = archive.extractfile(f"package/{relative}")
            if member is None:
                raise SystemExit(f"{name}@{version} has no file {relative}")
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(member.read())
    print(f"vendored {name}@{version}: {', '.join(package.files)}")


def main() -> int:
    if shutil.which("npm") is None:
        print("error: npm is not on the PATH", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for package in PACKAGES:
            vendor_package(package, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
