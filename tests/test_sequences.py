"""Exact match over answers of L tokens: the p^L arithmetic against a direct simulation, the
scores against torch's cross_entropy, the record's checks, and the lossacc-sequences command."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from conftest import ROOT
from lossacc.run_analysis import book_record
from lossacc.sequences import (
    RECORD_FILE,
    SequenceRecordError,
    SequenceSettings,
    encode_problems,
    exact_match_from_loss,
    exact_match_probability,
    exact_match_readouts,
    load_sequence_record,
    loss_at_exact_match,
    score_answers,
    train,
    write_sequence_record,
    wrong_token_distribution,
)

COMMITTED = ROOT / "records" / "sequence-addition"
TINY = SequenceSettings(digits=2, hidden=16, layers=1, steps=20, eval_every=10, val_size=50, batch_size=16)


def test_the_issue_table() -> None:
    table = exact_match_probability([[0.9], [0.7]], [5, 10])
    assert np.round(table, 2).tolist() == [[0.59, 0.35], [0.17, 0.03]]


@pytest.mark.parametrize("token_probs", [[0.9] * 5, [0.7] * 3, [0.97] * 20, [1.0, 0.97, 0.86, 0.67, 1.0]])
def test_wrong_tokens_agree_with_a_simulation(token_probs: list[float]) -> None:
    rng = np.random.default_rng(1)
    n, length = 200_000, len(token_probs)
    wrong = (rng.random((n, length)) >= np.array(token_probs)).sum(axis=1)
    simulated = np.bincount(wrong, minlength=length + 1) / n
    predicted = wrong_token_distribution(token_probs)
    standard_error = np.sqrt(predicted * (1 - predicted) / n)
    assert np.all(np.abs(simulated - predicted) <= 5 * standard_error + 1e-12)
    assert predicted[0] == pytest.approx(np.prod(token_probs)) and predicted.sum() == pytest.approx(1)


def test_equal_token_probabilities_give_the_binomial() -> None:
    p, length = 0.8, 6
    binomial = [math.comb(length, k) * (1 - p) ** k * p ** (length - k) for k in range(length + 1)]
    assert wrong_token_distribution([p] * length) == pytest.approx(binomial, abs=1e-15)
    assert wrong_token_distribution([p] * length)[0] == pytest.approx(exact_match_probability(p, length))


def test_exact_match_against_loss() -> None:
    # A calibrated token with right-token probability p has loss -ln p.
    p, length = 0.8, 7
    assert exact_match_from_loss(-math.log(p), length) == pytest.approx(p**length)
    for length in (1, 5, 20):
        assert exact_match_from_loss(loss_at_exact_match(0.5, length), length) == pytest.approx(0.5)
    assert loss_at_exact_match(0.5, 10) == pytest.approx(math.log(2) / 10)


def test_explorer_twin() -> None:
    readouts = exact_match_readouts(0.9, 10)
    assert readouts.exact_match == pytest.approx(0.9**10)
    assert readouts.token_loss == pytest.approx(-math.log(0.9))
    assert readouts.answer_loss == pytest.approx(10 * -math.log(0.9))
    assert readouts.expected_wrong == pytest.approx(1.0)
    assert readouts.half_loss == pytest.approx(math.log(2) / 10)
    # 0.9^6 = 0.531 >= 0.5 > 0.9^7 = 0.478
    assert readouts.longest_half == 6
    # p = 0.5 exactly: one token is right half the time, two are not.
    assert exact_match_readouts(0.5, 3).longest_half == 1
    with pytest.raises(ValueError):
        exact_match_readouts(1.0, 3)


def test_problems_encode_the_sum() -> None:
    a, b = np.array([0, 9999, 1234, 5000]), np.array([0, 1, 8766, 5000])
    inputs, targets = encode_problems(a, b, 4)
    assert inputs.shape == (4, 8) and targets.shape == (4, 5)
    as_number = (targets.numpy() * 10 ** np.arange(4, -1, -1)).sum(axis=1)
    assert as_number.tolist() == (a + b).tolist()
    assert inputs[2].tolist() == [1, 2, 3, 4, 8, 7, 6, 6]


def test_scores_agree_with_torch_cross_entropy() -> None:
    generator = torch.Generator().manual_seed(0)
    n, length, vocabulary = 300, 4, 10
    logits = 3 * torch.randn(n, length, vocabulary, generator=generator)
    targets = torch.randint(vocabulary, (n, length), generator=generator)
    targets[:40] = logits[:40].argmax(dim=-1)  # some answers right in every token
    scores = score_answers(logits, targets)
    per_token = F.cross_entropy(logits.double().reshape(-1, vocabulary), targets.reshape(-1), reduction="none").view(n, length)
    assert scores.token_loss == pytest.approx(per_token.mean().item(), rel=1e-12)
    probability = F.softmax(logits.double(), dim=-1).gather(-1, targets[..., None])[..., 0].prod(dim=1)
    assert scores.answer_probability == pytest.approx(probability.mean().item(), rel=1e-9)
    right = (logits.argmax(dim=-1) == targets).numpy()
    assert scores.exact_match == right.all(axis=1).mean() and scores.exact_match >= 40 / n
    assert scores.token_accuracy == pytest.approx(right.mean())
    assert scores.position_accuracy == pytest.approx(right.mean(axis=0).tolist())
    assert scores.wrong_tokens == np.bincount((~right).sum(axis=1), minlength=length + 1).tolist()


def test_a_tiny_run_writes_a_record_that_loads(tmp_path: Path) -> None:
    record = train(TINY, progress=False)
    assert record.history.step.tolist() == [0, 10, 20]
    assert record.metadata["device"] == "cpu" and record.metadata["torch_version"] == torch.__version__
    assert {"commit", "commit_dirty", "wall_seconds", "started"} <= set(record.metadata)
    path = write_sequence_record(tmp_path, record)
    assert path.name == RECORD_FILE and not list(tmp_path.glob(".*.tmp"))
    loaded = load_sequence_record(tmp_path)
    assert loaded.settings == TINY
    for field in dataclasses.fields(loaded.history):
        np.testing.assert_array_equal(getattr(loaded.history, field.name), getattr(record.history, field.name))
    # Same seed, same run.
    again = train(TINY, progress=False)
    np.testing.assert_array_equal(again.history.val_token_loss, record.history.val_token_loss)


def test_a_record_that_contradicts_itself_is_refused(tmp_path: Path) -> None:
    write_sequence_record(tmp_path, train(TINY, progress=False))
    document = json.loads((tmp_path / RECORD_FILE).read_text())
    document["history"]["val_exact_match"][-1] += 0.1
    (tmp_path / RECORD_FILE).write_text(json.dumps(document))
    with pytest.raises(SequenceRecordError, match="val_exact_match"):
        load_sequence_record(tmp_path)
    document["format"] = "something-else"
    (tmp_path / RECORD_FILE).write_text(json.dumps(document))
    with pytest.raises(SequenceRecordError, match="is not a"):
        load_sequence_record(tmp_path)


def test_the_committed_record() -> None:
    record = load_sequence_record(COMMITTED)
    assert (COMMITTED / RECORD_FILE).stat().st_size < 2**20
    assert record.metadata["commit"] and record.metadata["commit_dirty"] is False
    assert record.metadata["torch_threads"] == 1 and record.metadata["wall_seconds"] < 300
    crossing = record.crossing(0.5)
    assert 0 < crossing < len(record.history.step) - 1
    # The book's CIFAR chapters pick among records/*/summary.json: this record is not one of them.
    assert book_record(ROOT / "records").name != COMMITTED.name


def run_command(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lossacc.sequences", *map(str, arguments)], capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # starts the training command
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--steps", "25", "--eval-every", "10"], "must be a multiple of eval_every"),
        (["--digits", "0"], "digits must be at least 1"),
        (["--hidden", "many"], "invalid int value"),
    ],
)
def test_the_command_rejects_bad_input_in_one_line(tmp_path: Path, arguments: list[str], message: str) -> None:
    result = run_command("--record-dir", tmp_path / "r", *arguments)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.slow  # starts the training command, which trains
def test_the_command_records_and_refuses_to_overwrite(tmp_path: Path) -> None:
    tiny = ["--digits", "2", "--hidden", "16", "--layers", "1", "--steps", "20", "--eval-every", "10", "--val-size", "50", "--quiet"]
    first = run_command("--record-dir", tmp_path, *tiny)
    assert first.returncode == 0, first.stderr
    assert "3 evaluations" in first.stdout
    assert load_sequence_record(tmp_path).settings.digits == 2
    again = run_command("--record-dir", tmp_path, *tiny)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    (tmp_path / "file").write_text("")
    under_file = run_command("--record-dir", tmp_path / "file" / "r", *tiny)
    assert under_file.returncode == 2 and "lies under the file" in under_file.stderr
