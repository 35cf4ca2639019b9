"""Time and peak memory of ``lossacc diagnose`` on random float32 logits, against a baseline.

baseline  the least a report must do, written plainly: load the file and compute the mean
          cross-entropy with NumPy on the whole float32 array at once.
diagnose  ``python -m lossacc diagnose FILE`` (every metric, the temperature fit, no HTML).

Each is run as its own process, alternating, ``--repeats`` times; the script prints each run's
wall time and peak resident memory (``ru_maxrss`` of the child), their medians, the ratio of the
medians, and the peak memory over the input's size.

    python benchmarks/bench_diagnose.py --rows 100000 --classes 1000 --format npy
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BASELINE = """
import sys, numpy as np
path = sys.argv[1]
if path.endswith(".npz"):
    with np.load(path) as f:
        z, y = f["logits"], f["labels"]
else:
    z, y = np.load(path), np.load(path.replace("scores", "labels"))
top = z.max(axis=1, keepdims=True)
losses = np.log(np.exp(z - top).sum(axis=1)) + top[:, 0] - z[np.arange(len(y)), y]
print(losses.mean())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--format", choices=("npy", "npz"), default="npy")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        logits = np.empty((args.rows, args.classes), dtype=np.float32)
        for start in range(0, args.rows, 10_000):  # fill in slices, never a float64 copy of the whole
            logits[start : start + 10_000] = rng.standard_normal((min(10_000, args.rows - start), args.classes), dtype=np.float32) * 3
        labels = rng.integers(0, args.classes, size=args.rows)
        if args.format == "npy":
            path = Path(folder) / "scores.npy"
            np.save(path, logits)
            np.save(Path(folder) / "labels.npy", labels)
            report = [sys.executable, "-m", "lossacc", "diagnose", str(path), "--labels", str(Path(folder) / "labels.npy")]
        else:
            path = Path(folder) / "scores.npz"
            np.savez(path, logits=logits, labels=labels)
            report = [sys.executable, "-m", "lossacc", "diagnose", str(path)]
        input_mib = logits.nbytes / 2**20
        del logits
        # Each run goes through WRAPPER, so that ru_maxrss is that run's own peak.
        results: dict[str, list[tuple[float, float]]] = {"baseline": [], "diagnose": []}
        for _ in range(args.repeats):
            for name, command in (("baseline", [sys.executable, "-c", BASELINE, str(path)]), ("diagnose", report)):
                wrapped = [sys.executable, "-c", WRAPPER, *command]
                began = time.perf_counter()
                out = subprocess.run(wrapped, check=True, capture_output=True, text=True).stdout.split()
                results[name].append((time.perf_counter() - began, float(out[-1])))
        print(f"{args.rows:,} x {args.classes:,} float32 logits, .{args.format}: input {input_mib:,.0f} MiB")
        for name, runs in results.items():
            seconds = statistics.median(s for s, _ in runs)
            peak = statistics.median(m for _, m in runs)
            listed = ", ".join(f"{s:.2f} s / {m:,.0f} MiB" for s, m in runs)
            print(f"{name:>9}: median {seconds:.2f} s, peak RSS {peak:,.0f} MiB ({peak / input_mib:.2f} x input)  [{listed}]")
        ratio = statistics.median(s for s, _ in results["diagnose"]) / statistics.median(s for s, _ in results["baseline"])
        print(f"diagnose / baseline time: {ratio:.2f}")


# Runs a command and prints its peak RSS in MiB (the grandchild is this wrapper's only child).
WRAPPER = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""

if __name__ == "__main__":
    main()
