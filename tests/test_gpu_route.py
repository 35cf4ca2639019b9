"""The GPU route rehearsed on the CPU: scripts/train_on_gpu.sh run as a GPU machine would run it.

The tree is staged in a git clone, copied without its .git, and run with a Python that has
torch but none of the book's packages (lossacc comes from PYTHONPATH only), in two calls:
start, then poll-and-collect. The collected record must load.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lossacc.cifar.data import sha256_of_file
from lossacc.cifar.record import load_record
from lossacc.cifar.synthetic import synthetic_cifar, write_python_release, write_tar_gz

pytestmark = pytest.mark.slow  # each test starts the script in new Pythons; one trains

ROOT = Path(__file__).resolve().parents[1]
# What a bare GPU machine lacks: the book's own packages (torch, numpy, pillow, tqdm, matplotlib are there).
BOOK_ONLY_PACKAGES = ("jupyter_book", "myst_nb", "sphinx", "IPython", "ipykernel", "ipywidgets", "anywidget", "yaml")


def script(checkout: Path, *arguments: str | Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(checkout / "scripts" / "train_on_gpu.sh"), *map(str, arguments)],
        cwd=checkout.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("train_on_gpu: error:") and message in lines[0], result.stderr


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    release = write_python_release(synthetic_cifar(train_per_class=20, test_per_class=10, seed=5), folder / "release")
    return write_tar_gz(release, folder / "toy-cifar.tar.gz")


@pytest.fixture(scope="module")
def bare_machine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of a machine with torch but not the book: the installed lossacc and the book's packages hidden."""
    site = tmp_path_factory.mktemp("bare-site")
    (site / "sitecustomize.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            BLOCKED = {BOOK_ONLY_PACKAGES!r}
            sys.path[:] = [p for p in sys.path if p.rstrip("/") != {str(ROOT / "code")!r}]

            class NotOnThisMachine:
                def find_spec(self, name, path=None, target=None):
                    if name.split(".")[0] in BLOCKED:
                        raise ModuleNotFoundError(f"No module named {{name!r}} on this machine")
                    return None

            sys.meta_path.insert(0, NotOnThisMachine())
            """
        )
    )
    return {"PATH": os.environ["PATH"], "HOME": str(site), "PYTHON": sys.executable, "PYTHONPATH": str(site)}


def copy_of_tree(destination: Path) -> Path:
    for part in ("code", "scripts"):
        shutil.copytree(ROOT / part, destination / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / ".gitignore", destination / ".gitignore")
    return destination


def test_the_route_rehearses_on_the_cpu_from_a_copy_without_git(
    tmp_path: Path, archive: Path, bare_machine: dict[str, str]
) -> None:
    checkout = copy_of_tree(tmp_path / "checkout")
    git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "the tree"]):
        subprocess.run([*git, *command], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    staged = script(checkout, "stage", archive, "--sha256", sha256_of_file(archive), environment=bare_machine)
    assert staged.returncode == 0 and f"commit {commit[:12]}" in staged.stdout, staged.stderr
    shutil.rmtree(checkout / ".git")  # the copy on the GPU machine

    started = script(checkout, "start", "--rehearse", environment=bare_machine)
    assert started.returncode == 0, started.stderr
    assert "started the rehearsal run" in started.stdout and f"lossacc from {checkout / 'code'}" in started.stdout
    out = tmp_path / "collected"
    polled = script(checkout, "poll", out, "--rehearse", "--wait", "150", environment=bare_machine)
    assert polled.returncode == 0, polled.stderr + polled.stdout
    assert "epoch 3/3" in polled.stdout and "the run has ended" in polled.stdout

    record = load_record(out)
    assert record.complete and record.epochs_recorded == 3 and record.settings["width"] == 4
    metadata = record.metadata
    assert (metadata["commit"], metadata["commit_source"], metadata["commit_dirty"]) == (commit, "staged", False)
    assert metadata["dataset"]["sha256"] == sha256_of_file(archive) and metadata["device"]["type"] == "cpu"
    assert metadata["wall_seconds"] > 0 and "cuda_version" in metadata
    assert "3/3 epochs (complete)" in (out / "train.log").read_text()
    assert not (checkout / ".gpu-stage" / "cache").exists() and (checkout / "data").is_dir()


def test_start_refuses_a_missing_or_damaged_archive_and_a_second_run(
    tmp_path: Path, archive: Path, bare_machine: dict[str, str]
) -> None:
    checkout = copy_of_tree(tmp_path / "checkout")
    assert_one_line_error(script(checkout, "start", environment=bare_machine), "nothing staged in")
    stage = checkout / ".gpu-stage"
    stage.mkdir()
    (stage / "stage.json").write_text(json.dumps({"archive": archive.name, "sha256": "0" * 64, "commit": "abc", "commit_dirty": False}))
    assert_one_line_error(script(checkout, "start", "--rehearse", environment=bare_machine), "staged archive")
    shutil.copy(archive, stage / archive.name)
    assert_one_line_error(
        script(checkout, "start", "--rehearse", environment=bare_machine), "does not match the sha256 it was staged with"
    )
    if not _has_cuda():
        assert_one_line_error(script(checkout, "start", environment=bare_machine), "sees no CUDA GPU here")
    run_dir = checkout / "runs" / "gpu-rehearsal"
    run_dir.mkdir(parents=True)
    with subprocess.Popen(["sleep", "60"]) as running:
        (run_dir / "launch.json").write_text(json.dumps({"pid": running.pid, "started": "just now", "sha256": "0" * 64}))
        assert_one_line_error(script(checkout, "start", "--rehearse", environment=bare_machine), "a run is already going")
        running.kill()


def test_poll_refuses_an_output_folder_holding_another_run(tmp_path: Path, bare_machine: dict[str, str]) -> None:
    checkout = copy_of_tree(tmp_path / "checkout")
    assert_one_line_error(
        script(checkout, "poll", tmp_path / "out", "--rehearse", environment=bare_machine), "no run was started"
    )
    run_dir = checkout / "runs" / "gpu-rehearsal"
    shutil.copytree(ROOT / "records" / "cpu-laptop", run_dir / "record")
    (run_dir / "launch.json").write_text(json.dumps({"pid": 2**22 + 1, "started": "earlier", "sha256": "0" * 64}))
    out = tmp_path / "out"
    out.mkdir()
    other = json.loads((ROOT / "records" / "cpu-laptop" / "summary.json").read_text())
    other["settings"]["width"] = 64
    (out / "summary.json").write_text(json.dumps(other))
    before = (out / "summary.json").read_bytes()
    result = script(checkout, "poll", out, "--rehearse", environment=bare_machine)
    assert_one_line_error(result, "already holds the record of another run (width=64 there, 16 now); poll into another")
    assert "--overwrite-record" not in result.stderr  # poll takes no such flag
    assert (out / "summary.json").read_bytes() == before and not (out / "arrays.npz").exists()


def test_poll_refuses_another_runs_folder_before_copying_anything_and_names_its_own_flags(
    tmp_path: Path, bare_machine: dict[str, str]
) -> None:
    checkout = copy_of_tree(tmp_path / "checkout")
    result = script(checkout, "poll", tmp_path / "out", "--rehearse", environment=bare_machine)
    assert_one_line_error(result, "start one with: bash scripts/train_on_gpu.sh start --rehearse")
    run_dir = checkout / "runs" / "gpu-rehearsal"
    run_dir.mkdir(parents=True)  # a run that has not recorded an epoch yet
    (run_dir / "launch.json").write_text(json.dumps({"pid": 2**22 + 1, "started": "earlier", "sha256": "0" * 64}))
    (run_dir / "train.log").write_text("reading CIFAR-10\n")
    out = tmp_path / "out"
    shutil.copytree(ROOT / "records" / "cpu-laptop", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = script(checkout, "poll", out, "--rehearse", environment=bare_machine)
    assert_one_line_error(result, f"{out} already holds the record of another run; poll into another folder")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # not even train.log
    (out / "summary.json").unlink()
    (out / "arrays.npz").unlink()
    result = script(checkout, "poll", out, "--rehearse", environment=bare_machine)
    assert_one_line_error(result, "continue it from its last checkpoint with: bash scripts/train_on_gpu.sh start --rehearse")


def staged_checkout(destination: Path, archive: Path) -> Path:
    """A copy of the tree with the archive staged, as it arrives on the GPU machine."""
    checkout = copy_of_tree(destination)
    (checkout / ".gpu-stage").mkdir()
    shutil.copy(archive, checkout / ".gpu-stage" / archive.name)
    stage = {"archive": archive.name, "sha256": sha256_of_file(archive), "commit": "0" * 40, "commit_dirty": False}
    (checkout / ".gpu-stage" / "stage.json").write_text(json.dumps(stage))
    return checkout


def poll_until_the_run_ends(checkout: Path, out: Path, environment: dict[str, str]) -> None:
    """Poll (and collect into ``out``) until the rehearsal run ends: minutes on a busy machine."""
    for _ in range(8):
        polled = script(checkout, "poll", out, "--rehearse", "--wait", "120", environment=environment)
        assert polled.returncode == 0, polled.stderr
        if "the run has ended" in polled.stdout:
            return
    raise AssertionError("the rehearsal run did not end in 16 minutes")


def test_polling_the_same_folder_after_start_restart_collects_the_new_run(
    tmp_path: Path, archive: Path, bare_machine: dict[str, str]
) -> None:
    checkout = staged_checkout(tmp_path / "checkout", archive)
    out = tmp_path / "out"
    created = []
    for flags in ([], ["--restart"]):
        started = script(checkout, "start", "--rehearse", *flags, environment=bare_machine)
        assert started.returncode == 0, started.stderr
        poll_until_the_run_ends(checkout, out, bare_machine)
        created.append(load_record(out).metadata["created"])
    assert created[0] != created[1] and load_record(out).complete


def test_two_starts_at_the_same_moment_start_one_run(tmp_path: Path, archive: Path, bare_machine: dict[str, str]) -> None:
    checkout = staged_checkout(tmp_path / "checkout", archive)
    command = ["bash", str(checkout / "scripts" / "train_on_gpu.sh"), "start", "--rehearse"]
    starts = [
        subprocess.Popen(command, cwd=tmp_path, env=bare_machine, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [start.communicate(timeout=180) for start in starts]
    started = [out for out, _ in outputs if "started the rehearsal run" in out]
    assert len(started) == 1, outputs
    refused = [err for _, err in outputs if err]
    assert len(refused) == 1 and "a run is already going here" in refused[0], outputs
    poll_until_the_run_ends(checkout, tmp_path / "out", bare_machine)
    assert "3/3 epochs (complete)" in (tmp_path / "out" / "train.log").read_text()


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()
