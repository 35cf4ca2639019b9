"""Train the book's recipe on a GPU machine with PyTorch preinstalled and nothing else (run through train_on_gpu.sh).

stage ARCHIVE  (your machine, in the git checkout) copy the CIFAR-10 archive into .gpu-stage/
               and write the commit beside it, so a copy of the tree without .git still says
               which code made the run. Then copy the tree (with .gpu-stage/) to the GPU machine.
start          (GPU machine) check Python, torch, CUDA and the archive's sha256, then start the
               recipe detached (it survives the end of the command) with an unbuffered log.
               Never starts a second run while one is alive; after an interruption it continues
               from the last checkpoint.
poll OUT       (GPU machine) report progress (epoch, epoch time, ETA, validation loss and
               accuracy) and copy the record written so far into OUT (summary.json, arrays.npz,
               train.log): a machine taken back early still leaves the epochs done so far.
               --wait SECONDS keeps reporting and copying until the run ends or time is up.

Outputs on the GPU machine: runs/gpu-PRESET/ (checkpoint, record, log), data/ (decode cache).
Each error is one line on stderr and a non-zero exit; nothing already recorded is overwritten.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code"))

PROGRAM = "train_on_gpu"

try:
    from lossacc.cifar.data import KNOWN_ARCHIVES, sha256_of_file
    from lossacc.cifar.files import PathError, atomic_write, hold_folders, require_folder
    from lossacc.cifar.provenance import STAGED_COMMIT_VARIABLE, STAGED_DIRTY_VARIABLE, git_commit, now
    from lossacc.cifar.record import ARRAYS_FILE, SUMMARY_FILE, RecordError
    from lossacc.cifar.recording import PROGRESS_FILE, check_record_folder
except ImportError as missing:
    sys.exit(
        f"{PROGRAM}: error: {sys.executable} lacks a package the run needs ({missing}); "
        "set PYTHON to a Python with torch, numpy, pillow and tqdm"
    )

STAGE = ROOT / ".gpu-stage"
STAGE_FILE = STAGE / "stage.json"
LAUNCH_FILE = "launch.json"
LOG_FILE = "train.log"
EXIT_FILE = "exit_status"
POLL_SECONDS = 2.0
# How each preset runs here: the recipe checkpoints every 10 epochs and records every 10; the
# rehearsal is the same route on the CPU at toy size (any archive, subsets of it).
PRESET_FLAGS = {
    "recipe": ["--preset", "recipe", "--record-every", "10"],
    "rehearsal": ["--preset", "rehearsal", "--device", "cpu", "--allow-partial-data", "--record-every", "1"],
}


class RouteError(Exception):
    """Something the user must fix; reported in one line."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bash scripts/train_on_gpu.sh", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    steps = parser.add_subparsers(dest="step", required=True)
    stage = steps.add_parser("stage", help="copy the archive and the commit into .gpu-stage/ (your machine)")
    stage.add_argument("archive", type=Path, help="the CIFAR-10 archive (official release or the JPEG copy)")
    stage.add_argument("--sha256", help="accept an archive the book does not know, with this sha256")
    start = steps.add_parser("start", help="check the machine and start the run detached (GPU machine)")
    start.add_argument("--rehearse", action="store_true", help="the toy rehearsal preset on the CPU, no GPU needed")
    start.add_argument("--restart", action="store_true", help="discard this preset's previous run here and start over")
    poll = steps.add_parser("poll", help="report progress and copy the record so far into OUT (GPU machine)")
    poll.add_argument("out", type=Path, help="folder for the record (summary.json, arrays.npz) and train.log")
    poll.add_argument("--rehearse", action="store_true", help="poll the rehearsal run")
    poll.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="keep polling until the run ends")
    arguments = parser.parse_args(argv)
    try:
        if arguments.step == "stage":
            return stage_archive(arguments.archive, arguments.sha256)
        preset = "rehearsal" if arguments.rehearse else "recipe"
        if arguments.step == "start":
            # One start at a time: a second waits here, then finds the first one's run alive.
            with hold_folders({ROOT / "runs": "the runs folder"}, wait=True):
                return start_run(preset, restart=arguments.restart)
        return poll_run(preset, arguments.out, arguments.wait)
    except (RouteError, RecordError, PathError, OSError) as error:
        fail(str(error))


def route(step: str, preset: str) -> str:
    """The command line of ``step`` for ``preset`` (the rehearsal's needs --rehearse)."""
    return f"bash scripts/train_on_gpu.sh {step}{' --rehearse' if preset == 'rehearsal' else ''}"


def fail(message: str) -> NoReturn:
    print(f"{PROGRAM}: error: {message}", file=sys.stderr)
    sys.exit(1)


def stage_archive(archive: Path, sha256: str | None) -> int:
    """Copy ``archive`` to .gpu-stage/ and write stage.json: its name and sha256, and the commit."""
    if not archive.is_file():
        raise RouteError(f"no archive at {archive}")
    commit, dirty = git_commit(ROOT)
    if commit is None:
        raise RouteError(f"{ROOT} is not a git checkout: stage from the clone, before copying the tree")
    digest = sha256_of_file(archive)
    if sha256 is None and digest not in KNOWN_ARCHIVES:
        raise RouteError(
            f"{archive} (sha256 {digest[:12]}...) is neither the official CIFAR-10 release nor the JPEG copy; "
            "pass --sha256 to use it anyway"
        )
    if sha256 is not None and sha256 != digest:
        raise RouteError(f"{archive} has sha256 {digest}, not the {sha256} given")
    STAGE.mkdir(exist_ok=True)
    for old in STAGE.iterdir():
        old.unlink()
    shutil.copyfile(archive, STAGE / archive.name)
    stage = {"archive": archive.name, "sha256": digest, "commit": commit, "commit_dirty": dirty, "staged": now()}
    STAGE_FILE.write_text(json.dumps(stage, indent=1))
    size = (STAGE / archive.name).stat().st_size / 2**20
    state = " (with uncommitted changes: commit them first for a clean record)" if dirty else ""
    print(f"staged {archive.name} ({size:.0f} MiB, sha256 {digest[:12]}...) and commit {commit[:12]}{state}")
    print("copy the tree with .gpu-stage/ to the GPU machine, then run there: bash scripts/train_on_gpu.sh start")
    return 0


def start_run(preset: str, *, restart: bool) -> int:
    """Check the machine and the staged archive, then start the run detached (unless one is alive or done)."""
    stage = read_stage()
    archive = STAGE / stage["archive"]
    if not archive.is_file():
        raise RouteError(f"the staged archive {archive} is missing: copy .gpu-stage/ with the tree")
    run_dir = ROOT / "runs" / f"gpu-{preset}"
    require_folder(run_dir, "the run folder")
    launch = read_json(run_dir / LAUNCH_FILE)
    if launch and process_alive(launch["pid"]):
        raise RouteError(
            f"a run is already going here (pid {launch['pid']}, started {launch['started']}); "
            f"follow it with: {route('poll OUT', preset)}"
        )
    describe_machine(need_gpu=preset == "recipe")
    print(f"checking the sha256 of {archive.name} ...", flush=True)
    if sha256_of_file(archive) != stage["sha256"]:
        raise RouteError(f"{archive} does not match the sha256 it was staged with (damaged copy?); stage it again")
    if launch and launch["sha256"] != stage["sha256"] and not restart:
        raise RouteError(f"{run_dir} holds a run on another archive; pass --restart to discard it")
    summary = read_json(run_dir / "record" / SUMMARY_FILE)
    if summary and summary.get("complete") and not restart:
        print(f"the run in {run_dir} is complete; collect it with: {route('poll OUT', preset)}")
        return 0
    # The runs this folder held and --restart discarded: their copies in an OUT folder may be replaced.
    discarded = (launch or {}).get("discarded", [])
    if restart and summary:
        discarded = [*discarded, summary["metadata"]["created"]]
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / EXIT_FILE).unlink(missing_ok=True)
    if restart:
        (run_dir / PROGRESS_FILE).unlink(missing_ok=True)
    command = [
        sys.executable,
        "-u",
        "-m",
        "lossacc.cifar",
        *PRESET_FLAGS[preset],
        "--data",
        str(archive),
        "--data-cache",
        str(ROOT / "data"),
        "--run-dir",
        str(run_dir),
        *(["--restart", "--overwrite-record"] if restart else []),
    ]
    environment = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "code"), *filter(None, [os.environ.get("PYTHONPATH")])]),
        STAGED_COMMIT_VARIABLE: stage["commit"],
        STAGED_DIRTY_VARIABLE: "true" if stage["commit_dirty"] else "false",
    }
    # sh records the exit status when training ends; setsid (a new session) keeps it alive after this command.
    with open(run_dir / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            ["sh", "-c", f'"$@"; echo $? > "{run_dir / EXIT_FILE}"', "sh", *command],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    launch = {
        "pid": process.pid,
        "started": now(),
        "preset": preset,
        "sha256": stage["sha256"],
        "command": command,
        "discarded": discarded,
    }
    atomic_write(run_dir / LAUNCH_FILE, lambda handle: handle.write(json.dumps(launch, indent=1).encode()))
    time.sleep(2.0)
    if process.poll() is not None:
        raise RouteError(f"the run stopped at once: {last_line(run_dir / LOG_FILE)}")
    print(f"started the {preset} run (pid {process.pid}); log in {run_dir / LOG_FILE}")
    print(f"follow it with: {route('poll OUT', preset)} --wait 540")
    return 0


def poll_run(preset: str, out: Path, wait_seconds: float) -> int:
    """Report progress and copy the record into ``out`` until the run ends or ``wait_seconds`` pass."""
    run_dir = ROOT / "runs" / f"gpu-{preset}"
    launch = read_json(run_dir / LAUNCH_FILE)
    if not launch:
        raise RouteError(f"no run was started in {run_dir}; start one with: {route('start', preset)}")
    require_folder(out, "the output folder", writable=True)
    check_out_folder(run_dir, out, launch.get("discarded", []))
    deadline = time.monotonic() + wait_seconds
    reported: int | None = None
    while True:
        alive = process_alive(launch["pid"])
        progress = read_json(run_dir / PROGRESS_FILE)
        if progress and progress["epoch"] != reported:
            print(progress_line(progress), flush=True)
            reported = progress["epoch"]
        elif not progress and reported is None:
            print(f"no epoch finished yet (started {launch['started']}); log: {last_line(run_dir / LOG_FILE)}", flush=True)
            reported = 0
        copied = collect(run_dir, out, launch.get("discarded", []))
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    if alive:
        print(f"still running; record so far ({copied} epochs) in {out}; poll again to follow it")
        return 0
    if not (run_dir / EXIT_FILE).exists():
        raise RouteError(
            f"the run was killed (no exit status; last log line: {last_line(run_dir / LOG_FILE)}); "
            f"continue it from its last checkpoint with: {route('start', preset)}"
        )
    status = (run_dir / EXIT_FILE).read_text().strip()
    if status != "0":
        raise RouteError(f"the run ended with exit status {status}: {last_line(run_dir / LOG_FILE)}")
    print(f"the run has ended: {last_line(run_dir / LOG_FILE)}; record ({copied} epochs) in {out}")
    return 0


def check_out_folder(run_dir: Path, out: Path, discarded: list[str]) -> None:
    """Refuse ``out`` before anything is copied into it if it holds the record of another run
    than this one (a copy of a run that ``start --restart`` discarded here may be replaced)."""
    there = read_json(out / SUMMARY_FILE)
    if not there or there.get("metadata", {}).get("created") in discarded:
        return
    summary = read_json(run_dir / "record" / SUMMARY_FILE)
    if not summary:
        raise RouteError(f"{out} already holds the record of another run; poll into another folder")
    metadata = summary["metadata"]
    try:
        check_record_folder(out, summary["settings"], metadata["dataset"]["sha256"], metadata["created"], overwrite=False)
    except RecordError as error:
        raise RouteError(f"{str(error).split('; choose')[0]}; poll into another folder") from error


def collect(run_dir: Path, out: Path, discarded: list[str]) -> int:
    """Copy the run's record and log into ``out`` (refusing a folder that holds another run);
    returns the number of epochs the copied record holds (0 before the first record)."""
    check_out_folder(run_dir, out, discarded)
    record = run_dir / "record"
    summary = read_json(record / SUMMARY_FILE)
    if summary:
        copied = read_json(out / SUMMARY_FILE)
        if not copied or (copied.get("epochs_recorded"), copied.get("metadata", {}).get("created")) != (
            summary["epochs_recorded"],
            summary["metadata"]["created"],
        ):
            # arrays first, then the summary that describes them, each atomically
            arrays = (record / ARRAYS_FILE).read_bytes()
            atomic_write(out / ARRAYS_FILE, lambda handle: handle.write(arrays))
            summary_bytes = (record / SUMMARY_FILE).read_bytes()
            atomic_write(out / SUMMARY_FILE, lambda handle: handle.write(summary_bytes))
    if (run_dir / LOG_FILE).exists():
        log = (run_dir / LOG_FILE).read_bytes()
        atomic_write(out / LOG_FILE, lambda handle: handle.write(log))
    return int(summary["epochs_recorded"]) if summary else 0


def progress_line(progress: dict[str, Any]) -> str:
    """``epoch E/N, S s an epoch, ETA, validation loss and accuracy``; the ETA uses the median of the last 10 epochs."""
    times = progress["session_epoch_seconds"][-10:]
    per_epoch = statistics.median(times)
    remaining = (progress["epochs"] - progress["epoch"]) * per_epoch
    return (
        f"epoch {progress['epoch']}/{progress['epochs']}  {per_epoch:.2f} s an epoch  "
        f"ETA {int(remaining // 60)} min {int(remaining % 60):02d} s  "
        f"val loss {progress['val_loss']:.4f}  val acc {100 * progress['val_acc']:.2f}%  ({progress['updated']})"
    )


def describe_machine(*, need_gpu: bool) -> None:
    """Print Python, torch, CUDA and the GPU; without a CUDA GPU refuse unless rehearsing."""
    try:
        import torch
    except ImportError as error:
        raise RouteError(f"{sys.executable} cannot import torch ({error}); set PYTHON to the Python that has it") from error
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    print(
        f"python {sys.version.split()[0]} ({sys.executable}), torch {torch.__version__}, "
        f"CUDA {torch.version.cuda}, GPU {gpu}, lossacc from {ROOT / 'code'}"
    )
    if need_gpu and gpu is None:
        raise RouteError(
            f"torch {torch.__version__} sees no CUDA GPU here; the recipe needs one "
            "(start --rehearse runs the toy rehearsal on the CPU)"
        )


def read_stage() -> dict[str, Any]:
    stage = read_json(STAGE_FILE)
    if not stage:
        raise RouteError(
            f"nothing staged in {STAGE}: run 'bash scripts/train_on_gpu.sh stage ARCHIVE' in your checkout "
            "and copy .gpu-stage/ with the tree"
        )
    return stage


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or ``None`` if there is no file."""
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise RouteError(f"{path} is not readable JSON ({error})") from error
    if not isinstance(value, dict):
        raise RouteError(f"{path} does not hold a JSON object")
    return value


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()] if log.exists() else []
    return lines[-1] if lines else "(the log is empty)"


if __name__ == "__main__":
    sys.exit(main())
