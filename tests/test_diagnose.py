"""``lossacc diagnose``: its numbers against the library and torch, every input format, and bad input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from xml.dom import minidom

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lossacc import calibration
from lossacc.calibration import brier_score, expected_calibration_error, fit_temperature
from lossacc.cli import main
from lossacc.diagnose import (
    Diagnosis,
    class_change_rows,
    class_rows,
    diagnose,
    double_softmax_ceiling,
    load_predictions,
    metric_rows,
    report_frames,
)
from lossacc.metrics import softmax, top_k_accuracy
from lossacc.run_analysis import loss_change_by_group

RNG = np.random.default_rng(0)
LOGITS = (RNG.normal(0, 3, size=(9001, 12))).astype(np.float32)  # an odd count of rows
LABELS = np.where(RNG.random(9001) < 0.6, LOGITS.argmax(axis=1), RNG.integers(0, 12, size=9001))


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 83 rows of 12 classes, so that every computation spans many blocks and a partial last one."""
    monkeypatch.setattr(calibration, "BLOCK_ENTRIES", 1000)


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_numbers_agree_with_the_library_and_torch(tmp_path: Path) -> None:
    path = tmp_path / "run.npz"
    np.savez(path, logits=LOGITS, labels=LABELS)
    d = diagnose(load_predictions(path))
    z, y = torch.tensor(LOGITS, dtype=torch.float64), torch.tensor(LABELS)
    probs = softmax(LOGITS)
    assert d.kind == "logits" and not d.warnings
    assert d.mean_loss == pytest.approx(F.cross_entropy(z, y).item(), rel=1e-12)
    assert d.accuracy == (LOGITS.argmax(axis=1) == LABELS).mean()
    assert d.top_k_accuracy == pytest.approx(top_k_accuracy(LOGITS, LABELS, 5), abs=1e-15)
    recalls = [(LOGITS.argmax(axis=1)[c == LABELS] == c).mean() for c in range(12)]
    assert d.balanced_accuracy == pytest.approx(np.mean(recalls), abs=1e-15)
    assert d.ece == pytest.approx(expected_calibration_error(probs, LABELS), abs=1e-12)
    assert d.brier == pytest.approx(brier_score(probs, LABELS), abs=1e-12)
    assert d.temperature == fit_temperature(LOGITS[::2], LABELS[::2])
    assert d.heldout_loss_scaled == pytest.approx(F.cross_entropy(z[1::2] / d.temperature, y[1::2]).item(), rel=1e-12)
    assert d.heldout_loss == pytest.approx(F.cross_entropy(z[1::2], y[1::2]).item(), rel=1e-12)


def test_probabilities_give_the_same_report_as_their_logits(tmp_path: Path) -> None:
    np.savez(tmp_path / "logits.npz", logits=LOGITS.astype(np.float64), labels=LABELS)
    np.save(tmp_path / "probs.npy", softmax(LOGITS))
    np.save(tmp_path / "labels.npy", LABELS)
    from_logits = diagnose(load_predictions(tmp_path / "logits.npz"))
    from_probs = diagnose(load_predictions(tmp_path / "probs.npy", tmp_path / "labels.npy"))
    assert from_probs.kind == "probabilities"
    for name in ("accuracy", "mean_loss", "top_k_accuracy", "ece", "brier", "temperature", "heldout_loss_scaled"):
        assert getattr(from_probs, name) == pytest.approx(getattr(from_logits, name), rel=1e-9), name


def test_every_format_reads_the_same_predictions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logits, labels = LOGITS[:300], LABELS[:300]
    np.savez(tmp_path / "a.npz", logits=logits, labels=labels)
    torch.save({"logits": torch.tensor(logits), "labels": torch.tensor(labels)}, tmp_path / "a.pt")
    torch.save(torch.tensor(logits), tmp_path / "scores.pt")
    np.save(tmp_path / "labels.npy", labels)
    header = ",".join([f"class{j}" for j in range(12)] + ["label"])
    np.savetxt(
        tmp_path / "a.csv", np.column_stack([softmax(logits), labels]), delimiter=",", header=header, comments=""
    )
    reports = []
    for argv in (
        [tmp_path / "a.npz"],
        [tmp_path / "a.pt"],
        [tmp_path / "scores.pt", "--labels", tmp_path / "labels.npy"],
        [tmp_path / "a.csv"],
    ):
        status, out, err = run(capsys, "diagnose", *argv)
        assert status == 0 and not err, err
        reports.append(re.sub(r"^\S+: (.*) read as \w+ \(.*\)$", r"\1", out, flags=re.MULTILINE))
    # The CSV holds probabilities written to 18 digits: same figures to the printed precision
    # (only the first line differs: what the scores were read as, and why).
    assert reports[0] == reports[1] == reports[2] == reports[3]


def diagnose_pair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], later: np.ndarray, *options: object
) -> tuple[int, str, Diagnosis, Diagnosis]:
    """``lossacc diagnose a.npz b.npz OPTIONS`` on LOGITS and ``later``: the status, the printed
    report and the two checkpoints' diagnoses."""
    np.savez(tmp_path / "a.npz", logits=LOGITS, labels=LABELS)
    np.savez(tmp_path / "b.npz", logits=later, labels=LABELS)
    status, out, _ = run(capsys, "diagnose", tmp_path / "a.npz", tmp_path / "b.npz", *options)
    return status, out, diagnose(load_predictions(tmp_path / "a.npz")), diagnose(load_predictions(tmp_path / "b.npz"))


def test_two_checkpoints_split_the_loss_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    later = LOGITS * 2 + RNG.normal(0, 1, size=LOGITS.shape).astype(np.float32)
    status, out, a, b = diagnose_pair(tmp_path, capsys, later, "--html", tmp_path / "r.html")
    change = loss_change_by_group(a.per_example_loss, b.per_example_loss, a.correct, b.correct)
    assert status == 0 and f"({change.total:+.4f})" in out
    assert change.contribution.sum() == pytest.approx(b.mean_loss - a.mean_loss, abs=1e-12)
    page = (tmp_path / "r.html").read_text()
    # Two reliability diagrams and the loss change, each well-formed XML (so it also renders as an image).
    assert "From the first checkpoint to the second" in page and page.count("<svg") == 3
    for svg in re.findall(r"<svg.*?</svg>", page):
        minidom.parseString(svg)
    # Self-contained: no file or host is referenced, only inline SVG and data: URIs.
    assert not re.search(r"""(src|href)=["'](?!data:)""", page) and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )


def test_warns_about_probabilities_given_as_logits_and_double_softmax(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    probs = softmax(LOGITS)
    np.savez(tmp_path / "p.npz", logits=probs, labels=LABELS)  # stored under "logits": the double-softmax bug
    status, out, _ = run(capsys, "diagnose", tmp_path / "p.npz")
    assert status == 0 and "look like probabilities" in out
    np.savez(tmp_path / "twice.npz", probs=softmax(probs), labels=LABELS)
    status, out, _ = run(capsys, "diagnose", tmp_path / "twice.npz")
    assert status == 0 and "softmax twice" in out and softmax(probs).max() <= double_softmax_ceiling(12)
    np.savez(tmp_path / "z.npz", probs=LOGITS, labels=LABELS)  # logits stored as probabilities
    status, _, err = run(capsys, "diagnose", tmp_path / "z.npz")
    assert status == 2 and "look like logits" in err


def bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """Each bad input: (command-line arguments after 'diagnose', part of the expected message)."""
    logits, labels = LOGITS[:50], LABELS[:50]
    nan = logits.copy()
    nan[7, 3] = np.nan
    inf = logits.copy()
    inf[9, 0] = -np.inf
    files = {
        "one-dimensional scores": ({"logits": logits[:, 0], "labels": labels}, "shape (n, k)"),
        "three-dimensional scores": ({"logits": logits[None], "labels": labels}, "shape (n, k)"),
        "one class": ({"logits": logits[:, :1], "labels": labels * 0}, "k >= 2"),
        "mismatched lengths": ({"logits": logits, "labels": labels[:-1]}, "50 rows of scores but 49 labels"),
        "NaN": ({"logits": nan, "labels": labels}, "NaN or infinite values (first at row 7, column 3)"),
        "infinity": ({"logits": inf, "labels": labels}, "NaN or infinite values (first at row 9, column 0)"),
        "label out of range": ({"logits": logits, "labels": labels + 12}, "labels must lie in [0, 12)"),
        "negative label": ({"logits": logits, "labels": labels - 12}, "labels must lie in [0, 12)"),
        "fractional labels": ({"logits": logits, "labels": labels + 0.5}, "whole numbers"),
        "no labels": ({"logits": logits}, "no labels"),
        "no scores": ({"labels": labels}, "no scores array"),
        "no examples": ({"logits": logits[:0], "labels": labels[:0]}, "no examples"),
    }
    cases: dict[str, tuple[list[str], str]] = {}
    for i, (name, (arrays, message)) in enumerate(files.items()):
        np.savez(tmp_path / f"bad{i}.npz", **arrays)
        cases[name] = ([str(tmp_path / f"bad{i}.npz")], message)
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file")
    (tmp_path / "garbage.pt").write_bytes(b"\x80\x02 not a torch file")
    (tmp_path / "notes.txt").write_text("1,2,3")
    (tmp_path / "noheader.csv").write_text("0.5,0.5,1\n0.2,0.8,0\n")
    np.savez(tmp_path / "good.npz", logits=logits, labels=labels)
    np.savez(tmp_path / "other.npz", logits=logits, labels=np.roll(labels, 1))
    cases |= {
        "unreadable npz": ([str(tmp_path / "garbage.npz")], "cannot read it as .npz"),
        "unreadable pt": ([str(tmp_path / "garbage.pt")], "cannot read it as .pt"),
        "unknown file type": ([str(tmp_path / "notes.txt")], "unknown file type '.txt'"),
        "missing file": ([str(tmp_path / "absent.npz")], "no such file"),
        "CSV without header": ([str(tmp_path / "noheader.csv")], "header line"),
        "checkpoints on different labels": (
            [str(tmp_path / "good.npz"), str(tmp_path / "other.npz")],
            "different labels",
        ),
        "three files": ([str(tmp_path / "good.npz")] * 3, "one predictions file, or two"),
        "zero bins": ([str(tmp_path / "good.npz"), "--bins", "0"], "must be positive"),
        "unwritable report": (
            [str(tmp_path / "good.npz"), "--html", str(tmp_path / "absent" / "r.html")],
            "No such file",
        ),
    }
    return cases


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = bad_inputs(tmp_path)
    for name, (argv, message) in cases.items():
        status, out, err = run(capsys, "diagnose", *argv)
        assert status == 2, name
        assert err.count("\n") == 1 and err.startswith("lossacc diagnose: error: "), (name, err)
        assert message in err, (name, err)
        assert not out, name


def test_the_command_and_module_entry_points(tmp_path: Path) -> None:
    np.savez(tmp_path / "nan.npz", logits=np.full((3, 2), np.nan), labels=np.array([0, 1, 0]))
    for command in ([str(Path(sys.executable).parent / "lossacc")], [sys.executable, "-m", "lossacc"]):
        result = subprocess.run([*command, "diagnose", str(tmp_path / "nan.npz")], capture_output=True, text=True)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip().count("\n") == 0 and "NaN or infinite" in result.stderr


def test_per_class_rows_agree_with_torch_and_list_the_worst_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.savez(tmp_path / "a.npz", logits=LOGITS, labels=LABELS)
    status, out, _ = run(capsys, "diagnose", tmp_path / "a.npz", "--html", tmp_path / "r.html")
    rows = class_rows(diagnose(load_predictions(tmp_path / "a.npz")), LABELS)
    logits, labels = torch.from_numpy(LOGITS).double(), torch.from_numpy(LABELS)
    expected = {c: F.cross_entropy(logits[labels == c], labels[labels == c]).item() for c in range(12)}
    assert [row[0] for row in rows] == [str(c) for c in sorted(expected, key=lambda c: -expected[c])]
    for name, count, acc, loss in rows:
        mine = labels == int(name)
        assert int(count.replace(",", "")) == int(mine.sum()) and float(loss) == pytest.approx(expected[int(name)], abs=5e-5)
        assert float(acc) == pytest.approx((logits[mine].argmax(1) == int(name)).double().mean().item(), abs=5e-5)
    worst = rows[0]
    assert status == 0 and f"class {worst[0]}: {worst[1]} examples, accuracy {worst[2]}, mean loss {worst[3]}" in out
    assert f"class {rows[5][0]}:" not in out.split("classes, highest mean loss first")[1]  # the terminal shows 5
    page = (tmp_path / "r.html").read_text()
    assert all(f"<td>{name}</td><td>{count}</td>" in page for name, count, _, _ in rows)  # the page shows all


def test_two_checkpoints_name_the_classes_whose_loss_rose_most(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    later = LOGITS.copy()
    later[LABELS == 7, 7] -= 2  # class 7's images lose probability of their class; the others do not change
    status, out, a, b = diagnose_pair(tmp_path, capsys, later)
    rows = class_change_rows(a, b, LABELS)
    assert b.mean_loss > a.mean_loss and rows[0][0] == "7" and rows[0][3] == "+100%"
    assert status == 0 and "classes whose loss rose most (5 of 12):\n    class 7: mean loss" in out
def test_headline_intervals_and_paired_verdicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each headline number with its 95% interval; for two checkpoints, McNemar and the paired loss interval."""
    from lossacc.significance import accuracy_interval, compare_paired, mean_interval

    later = LOGITS * 1.5 + RNG.normal(0, 1, size=LOGITS.shape).astype(np.float32)
    status, out, a, b = diagnose_pair(tmp_path, capsys, later, "--html", tmp_path / "r.html")
    acc = accuracy_interval(int(a.correct.sum()), a.num_examples)
    loss = mean_interval(a.per_example_loss)
    paired = compare_paired(a.per_example_loss, a.correct, b.per_example_loss, b.correct)
    page = (tmp_path / "r.html").read_text()
    assert status == 0
    for shown in (
        f"[{acc.low:.4f}, {acc.high:.4f}]",
        f"[{loss.low:.4f}, {loss.high:.4f}]",
        f"McNemar exact p = {paired.mcnemar.pvalue:.3g}",
        f"[95%: {paired.loss.low:+.4f}, {paired.loss.high:+.4f}]",
    ):
        assert shown in out and shown in page
    assert paired.loss.excludes_zero() and "mean loss" in out and out.count("real at the 5% level") >= 1


def test_report_frames_are_the_reports_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    later = LOGITS * 2 + RNG.normal(0, 1, size=LOGITS.shape).astype(np.float32)
    _, out, a, b = diagnose_pair(tmp_path, capsys, later)
    (metrics_caption, metrics), (change_caption, groups) = report_frames([a, b])
    assert metrics.columns.tolist() == [a.source, b.source]
    # Every value of the table is the value the terminal report prints for that checkpoint.
    for column, d in zip(metrics.columns, (a, b)):
        assert metrics[column].tolist() == [value for _, value in metric_rows(d)]
    assert metrics.loc["accuracy: 95% interval (Wilson)", b.source] in out
    assert groups.loc["all", "images"] == groups["images"].drop("all").sum() == len(LABELS)
    assert groups["contribution"].drop("all").sum() == pytest.approx(b.mean_loss - a.mean_loss, abs=1e-12)
    assert groups.loc["all", "contribution"] == pytest.approx(b.mean_loss - a.mean_loss, abs=1e-12)
    assert f"{a.mean_loss:.4f} → {b.mean_loss:.4f}" in change_caption
    assert len(report_frames([a])) == 1
