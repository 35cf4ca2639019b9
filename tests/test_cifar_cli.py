"""The ``lossacc-train`` command, run as a separate process: help, one-line errors, a tiny run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from lossacc.cifar import files
from lossacc.cifar.cli import build_parser, options_from_arguments
from lossacc.cifar.cli import main as cli_main
from lossacc.cifar.options import Runtime
from lossacc.cifar.record import load_record
from lossacc.cifar.synthetic import synthetic_cifar, write_python_release, write_tar_gz

pytestmark = pytest.mark.slow  # each test starts the command in a new Python, and one trains

TINY_RUN = [
    "--epochs",
    "2",
    "--milestones",
    "1",
    "--width",
    "4",
    "--batch-size",
    "16",
    "--train-eval-size",
    "40",
    "--device",
    "cpu",
    "--quiet",
]
COMMITTED_RECORD = Path(__file__).resolve().parents[1] / "records" / "cpu-laptop"


def run_cli(*arguments: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lossacc.cifar", *map(str, arguments)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lossacc-train: error:") and message in lines[0], result.stderr


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    return write_tar_gz(write_python_release(synthetic_cifar(8, 4, seed=0), folder / "release"), folder / "toy.tar.gz")


def test_help_explains_the_command(tmp_path: Path) -> None:
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for phrase in (
        "Nesterov momentum 0.9",
        "--preset",
        "cpu-laptop",
        "--data PATH",
        "--resume",
        "--restart",
        "Run the same command again",
    ):
        assert phrase in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--data", "missing.tar.gz"], "no dataset at missing.tar.gz"),
        (["--data", "corrupt.tar.gz"], "is not a readable tar archive"),
        (["--data", "toy.tar.gz", "--epochs", "0"], "epochs must be at least 1"),
        (["--data", "toy.tar.gz", "--width", "wide"], "argument --width: invalid int value: 'wide'"),
        (["--data", "toy.tar.gz", "--epochs", "10"], "milestones must be increasing epochs before the last (1 to 9)"),
        (["--data", "toy.tar.gz", "--device", "cpu"], "images per class, CIFAR-10 has 5000"),
        (["--epochs", "3"], "the following arguments are required: --data"),
        (["--data", "toy.tar.gz", "--lr", "inf"], "lr must be a finite number, got inf"),
        (["--data", "toy.tar.gz", "--lr", "nan"], "lr must be a finite number, got nan"),
        (["--data", "toy.tar.gz", "--time-budget", "inf"], "time budget must be a positive number of seconds"),
        (["--data", "toy.tar.gz", "--seed", "-1"], "seed must lie in [0, 2**64), got -1"),
        (["--data", "toy.tar.gz", "--subset-seed", "-1"], "subset_seed must lie in [0, 2**64), got -1"),
        (["--data", "toy.tar.gz", "--seed", "1180591620717411303424"], "seed must lie in [0, 2**64)"),
        (["--data", "toy.tar.gz", "--crop-padding", "100"], "crop_padding must lie in [0, 16]"),
        (["--data", "toy.tar.gz", "--label-smoothing", "1"], "label_smoothing must lie in [0, 1), got 1.0"),
        (["--data", "toy.tar.gz", "--label-smoothing", "-0.1"], "label_smoothing must lie in [0, 1), got -0.1"),
        (["--data", "toy.tar.gz", "--label-smoothing", "nan"], "label_smoothing must be a finite number, got nan"),
        (["--data", "toy.tar.gz", "--label-smoothing", "a"], "argument --label-smoothing: invalid float value: 'a'"),
        (
            ["--data", "toy.tar.gz", "--allow-partial-data", *TINY_RUN, "--width", "100000"],
            "a ResNet18 of width 100000 does not fit in the memory of cpu",
        ),
        (
            ["--data", "toy.tar.gz", "--allow-partial-data", *TINY_RUN, "--run-dir", "damaged"],
            "checkpoint damaged/checkpoint.pt is damaged (UnpicklingError while reading it); pass --restart",
        ),
    ],
)
def test_bad_input_gives_one_line_and_a_nonzero_exit(
    tmp_path: Path, archive: Path, arguments: list[str], message: str
) -> None:
    (tmp_path / "toy.tar.gz").write_bytes(archive.read_bytes())
    (tmp_path / "corrupt.tar.gz").write_bytes(archive.read_bytes()[:500])
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "checkpoint.pt").write_bytes(b"\x80\x02 not a checkpoint")
    result = run_cli(*arguments, cwd=tmp_path)
    assert_one_line_error(result, message)
    assert "weights_only" not in result.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--data-cache", "a-file"], "--data-cache a-file is a file; give a folder"),
        (["--run-dir", "a-file"], "--run-dir a-file is a file; give a folder"),
        (["--record-dir", "a-file/record"], "--record-dir a-file/record lies under the file a-file"),
    ],
)
def test_a_file_where_a_folder_belongs_is_refused_before_any_work(
    tmp_path: Path, archive: Path, arguments: list[str], message: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    assert_one_line_error(run_cli("--data", archive, *arguments, cwd=tmp_path), message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # not even the data cache was made


def test_the_committed_record_is_never_replaced_by_another_run(tmp_path: Path, archive: Path) -> None:
    record_dir = tmp_path / "cpu-laptop"
    shutil.copytree(COMMITTED_RECORD, record_dir)
    before = {p.name: p.read_bytes() for p in record_dir.iterdir()}
    result = run_cli("--data", archive, "--allow-partial-data", *TINY_RUN, "--record-dir", record_dir, cwd=tmp_path)
    assert_one_line_error(result, "already holds the record of another run (")
    assert "epochs=50 there, 2 now" in result.stderr and "--overwrite-record" in result.stderr
    assert {p.name: p.read_bytes() for p in record_dir.iterdir()} == before


def test_the_evaluation_batch_defaults_to_the_device_default() -> None:
    arguments = build_parser().parse_args(["--data", "x", "--device", "cpu"])
    assert Runtime.resolve(options_from_arguments(arguments)).eval_batch_size == 125
    arguments = build_parser().parse_args(["--data", "x", "--device", "cpu", "--eval-batch-size", "64"])
    assert Runtime.resolve(options_from_arguments(arguments)).eval_batch_size == 64


def test_a_tiny_run_records_resumes_and_refuses_other_settings(tmp_path: Path, archive: Path) -> None:
    common: list[str | Path] = ["--data", archive, "--allow-partial-data", "--run-dir", "runs/tiny", *TINY_RUN]
    first = run_cli(*common, "--stop-after-epochs", "1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "1/2 epochs (stopped; run the same command to continue from epoch 2)" in first.stdout
    assert (tmp_path / "data").is_dir()  # the default cache folder, relative to where the command runs
    second = run_cli(*common, cwd=tmp_path)
    assert second.returncode == 0 and "2/2 epochs (complete)" in second.stdout, second.stderr
    record = load_record(tmp_path / "runs" / "tiny" / "record")
    assert record.complete and record.settings["width"] == 4 and len(record.metadata["sessions"]) == 2
    assert_one_line_error(run_cli(*common, "--width", "8", cwd=tmp_path), "width=4 there, 8 now")


def test_a_second_run_on_a_folder_in_use_is_refused_and_a_killed_run_leaves_it_free(
    tmp_path: Path, archive: Path
) -> None:
    common: list[str | Path] = ["--data", archive, "--allow-partial-data", *TINY_RUN, "--epochs", "500"]
    first = subprocess.Popen(
        [sys.executable, "-m", "lossacc.cifar", *map(str, common), "--run-dir", "a", "--lr", "0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while not (tmp_path / "a" / "progress.json").exists():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        same_folder = run_cli(*common, "--run-dir", "a", "--lr", "0.05", cwd=tmp_path)
        assert_one_line_error(same_folder, "the run folder a is in use by another run")
        same_record = run_cli(*common, "--run-dir", "b", "--record-dir", "a/record", cwd=tmp_path)
        assert_one_line_error(same_record, "the record folder a/record is in use by another run")
        assert first.poll() is None  # the first run goes on
    finally:
        first.kill()  # SIGKILL: the kernel drops its locks
        first.wait()
    done = json.loads((tmp_path / "a" / "progress.json").read_text())["epoch"]
    resumed = run_cli(*common, "--run-dir", "a", "--lr", "0.1", "--stop-after-epochs", str(done + 1), cwd=tmp_path)
    assert resumed.returncode == 0 and f"{done + 1}/500 epochs (stopped" in resumed.stdout, resumed.stderr


@pytest.mark.parametrize(
    ("read_only", "arguments", "message"),
    [
        ("record", ["--record-dir", "record"], "--record-dir record is not writable"),
        ("run", ["--run-dir", "run"], "--run-dir run is not writable"),
        ("run", ["--run-dir", "run/inner"], "--run-dir run/inner is not writable (its folder run cannot be written)"),
        ("data", ["--data-cache", "data"], "the data cache data is not writable"),
    ],
)
def test_a_folder_that_cannot_be_written_is_refused_before_any_work(
    archive: Path, read_only: str, arguments: list[str], message: str
) -> None:
    """Run as an unprivileged user (root writes anywhere), in a folder that user may enter."""
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be made")
    as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp())
    try:
        base.chmod(0o777)
        shutil.copy(archive, base / "toy.tar.gz")
        (base / "toy.tar.gz").chmod(0o644)
        (base / read_only).mkdir(mode=0o555)
        (base / read_only).chmod(0o555)
        result = subprocess.run(
            [*as_user, sys.executable, "-m", "lossacc.cifar", "--data", "toy.tar.gz", "--allow-partial-data", *TINY_RUN, *arguments],
            cwd=base,
            env={**os.environ, "HOME": str(base)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert_one_line_error(result, message)
        assert sorted(p.name for p in base.iterdir()) == sorted({read_only, "toy.tar.gz"})  # no work was done
    finally:
        shutil.rmtree(base)


def test_a_full_disk_is_one_line_and_the_run_resumes_exactly(
    tmp_path: Path, archive: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--data", str(archive), "--allow-partial-data", *TINY_RUN, "--data-cache", str(tmp_path / "data")]
    assert cli_main([*common, "--run-dir", str(tmp_path / "straight")]) == 0
    assert cli_main([*common, "--run-dir", str(tmp_path / "run"), "--stop-after-epochs", "1"]) == 0
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    before = checkpoint.read_bytes()
    capsys.readouterr()
    with monkeypatch.context() as full:
        # From here every file the run writes lands on a full device, as on a disk that filled up.
        full.setattr(files, "open", lambda name, mode: open("/dev/full", mode), raising=False)  # noqa: SIM115
        assert cli_main([*common, "--run-dir", str(tmp_path / "run")]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"lossacc-train: error: the disk is full: writing {checkpoint} failed")
    assert "run the same command to resume from the last checkpoint" in error[0]
    assert checkpoint.read_bytes() == before
    assert cli_main([*common, "--run-dir", str(tmp_path / "run")]) == 0
    resumed, straight = load_record(tmp_path / "run" / "record"), load_record(tmp_path / "straight" / "record")
    assert np.array_equal(resumed.val_loss, straight.val_loss) and np.array_equal(resumed.val_logits, straight.val_logits)
