"""Smooth loss, sudden accuracy: exact match over answers of ``L`` tokens, and a tiny model that shows it.

**The arithmetic.** If each of the ``L`` tokens of an answer is right with probability ``p``,
independently, the whole answer is right with probability ``p^L`` (exact match), while a
calibrated model that gives each right token probability ``p`` has the per-token loss
``-ln p``. Exact match against per-token loss is therefore ``exp(-L * loss)``: it reaches one
half at the per-token loss ``ln 2 / L``, later and more steeply the longer the answer.

**The demonstration.** :func:`train` teaches a small MLP to add two ``D``-digit numbers: the
input is the ``2 D`` digits (one-hot), the output ``L = D + 1`` answer digits predicted at once
(most significant first, zero-padded). Every ``eval_every`` steps it scores a fixed set of
validation problems and the record keeps, per evaluation, the per-token loss, the per-token
accuracy, the exact match, the probability of the whole answer and how many problems got
``k`` tokens wrong.

**The record** (``sequence_run.json``, written atomically, checked on load by
:func:`load_sequence_record`): ``format`` ("lossacc-sequence-record"), ``version`` (1),
``settings`` (every knob of :class:`SequenceSettings`), ``metadata`` (``commit``,
``commit_dirty``, ``commit_source``, ``device``, ``cpu``, ``torch_threads``, software
versions, ``started``, ``wall_seconds`` (from the first evaluation to the last, training and
evaluation together), ``parameters``) and ``history``, one list per :class:`SequenceHistory`
field with one entry per evaluation. The command ``lossacc-sequences`` (also
``python -m lossacc.sequences``) makes one.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch.nn import functional as F
from tqdm.auto import tqdm

from lossacc.cifar.files import PathError, atomic_write, require_folder
from lossacc.cifar.provenance import code_version, cpu_name, now, software_versions
from lossacc.command_line import Parser

RECORD_FORMAT = "lossacc-sequence-record"
RECORD_VERSION = 1
RECORD_FILE = "sequence_run.json"  # not summary.json: lossacc.run_analysis.book_record looks for those
VOCABULARY = 10  # the digits 0-9

FloatArray = NDArray[np.float64]


class SequenceRecordError(ValueError):
    """A sequence record is missing, unreadable, or inconsistent with itself."""


# ---------------------------------------------------------------- the arithmetic of exact match


def exact_match_probability(token_prob: ArrayLike, length: ArrayLike) -> FloatArray:
    """``p^L``: the chance that all ``L`` tokens are right when each is right with probability ``p``, independently."""
    return np.power(np.asarray(token_prob, dtype=np.float64), np.asarray(length, dtype=np.float64))


def exact_match_from_loss(token_loss: ArrayLike, length: ArrayLike) -> FloatArray:
    """``exp(-L * loss)``: exact match when each right token has probability ``p = exp(-loss)``."""
    return np.exp(-np.asarray(length, dtype=np.float64) * np.asarray(token_loss, dtype=np.float64))


def loss_at_exact_match(level: ArrayLike, length: ArrayLike) -> FloatArray:
    """The per-token loss ``-ln(level) / L`` at which ``exp(-L * loss)`` reaches ``level``."""
    return -np.log(np.asarray(level, dtype=np.float64)) / np.asarray(length, dtype=np.float64)


def wrong_token_distribution(token_probs: Sequence[float]) -> FloatArray:
    """Share of answers with ``k = 0..L`` wrong tokens when token ``t`` is right with probability
    ``token_probs[t]``, independently of the others (the Poisson-binomial distribution; the
    binomial when all are equal). Built one token at a time: a wrong token moves mass from
    ``k`` to ``k + 1``."""
    shares = np.array([1.0])
    for p in token_probs:
        shares = np.concatenate([shares * p, [0.0]]) + np.concatenate([[0.0], shares * (1 - p)])
    return shares


@dataclass(frozen=True)
class ExactMatchReadouts:
    """What the exact-match explorer shows for a per-token probability ``p`` and a length ``L``.

    ``token_loss`` ``-ln p``; ``exact_match`` ``p^L``; ``answer_loss`` ``L * (-ln p)``, the loss
    of the whole answer; ``expected_wrong`` ``L (1 - p)``, the mean number of wrong tokens;
    ``half_loss`` ``ln 2 / L``, the per-token loss at which exact match is one half;
    ``longest_half`` the longest answer still right at least half the time at this ``p``.
    """

    token_loss: float
    exact_match: float
    answer_loss: float
    expected_wrong: float
    half_loss: float
    longest_half: int


def exact_match_readouts(token_prob: float, length: int) -> ExactMatchReadouts:
    """The twin of ``explorers/exact_match.js``: its readouts at ``p = token_prob``, ``L = length``."""
    if not 0 < token_prob < 1 or length < 1:
        raise ValueError(f"need 0 < p < 1 and L >= 1, got p={token_prob}, L={length}")
    token_loss = -math.log(token_prob)
    return ExactMatchReadouts(
        token_loss=token_loss,
        exact_match=token_prob**length,
        answer_loss=length * token_loss,
        expected_wrong=length * (1 - token_prob),
        half_loss=math.log(2) / length,
        longest_half=math.floor(math.log(0.5) / math.log(token_prob) + 1e-12),
    )


# ---------------------------------------------------------------- the task: adding two numbers


def encode_problems(a: NDArray[np.int64], b: NDArray[np.int64], digits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens of the problems ``a + b``: inputs (n, 2 D), the digits of ``a`` then ``b``, and
    targets (n, D + 1), the digits of the sum; most significant first, zero-padded."""
    powers = 10 ** np.arange(digits, -1, -1)

    def digits_of(x: NDArray[np.int64], count: int) -> NDArray[np.int64]:
        return (x[:, None] // powers[-count:]) % 10

    inputs = np.concatenate([digits_of(a, digits), digits_of(b, digits)], axis=1)
    return torch.from_numpy(inputs).long(), torch.from_numpy(digits_of(a + b, digits + 1)).long()


def random_problems(count: int, digits: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` problems with ``a`` and ``b`` drawn uniformly from ``0 .. 10^D - 1``."""
    a, b = rng.integers(0, 10**digits, size=(2, count))
    return encode_problems(a, b, digits)


class AdditionMLP(torch.nn.Module):
    """One-hot digits in, ``D + 1`` answer digits out at once: ``layers`` hidden ReLU layers of ``hidden`` units."""

    def __init__(self, digits: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.answer_length = digits + 1
        sizes = [2 * digits * VOCABULARY] + [hidden] * layers
        blocks: list[torch.nn.Module] = []
        for size_in, size_out in zip(sizes[:-1], sizes[1:]):
            blocks += [torch.nn.Linear(size_in, size_out), torch.nn.ReLU()]
        self.body = torch.nn.Sequential(*blocks, torch.nn.Linear(sizes[-1], self.answer_length * VOCABULARY))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits (n, L, 10) from input digits (n, 2 D)."""
        one_hot = F.one_hot(inputs, VOCABULARY).float().flatten(1)
        return self.body(one_hot).view(len(inputs), self.answer_length, VOCABULARY)


@dataclass(frozen=True)
class AnswerScores:
    """Scores of answers of ``L`` tokens: ``token_loss`` the mean cross-entropy over all tokens,
    ``token_accuracy`` the share of right tokens, ``exact_match`` the share of answers right in
    every token, ``answer_probability`` the mean probability of the whole right answer,
    ``prod_t p(y_t)``, ``position_accuracy`` (L,) per position, ``wrong_tokens`` (L + 1,) how
    many answers have ``k`` tokens wrong."""

    token_loss: float
    token_accuracy: float
    exact_match: float
    answer_probability: float
    position_accuracy: list[float]
    wrong_tokens: list[int]


def score_answers(logits: torch.Tensor, targets: torch.Tensor) -> AnswerScores:
    """Score logits (n, L, V) against target tokens (n, L); the answer is each position's argmax."""
    token_losses = -torch.log_softmax(logits.double(), dim=-1).gather(-1, targets[..., None])[..., 0]
    right = logits.argmax(dim=-1) == targets
    wrong = (~right).sum(dim=1)
    return AnswerScores(
        token_loss=token_losses.mean().item(),
        token_accuracy=right.double().mean().item(),
        exact_match=right.all(dim=1).double().mean().item(),
        answer_probability=torch.exp(-token_losses.sum(dim=1)).mean().item(),
        position_accuracy=right.double().mean(dim=0).tolist(),
        wrong_tokens=torch.bincount(wrong, minlength=targets.shape[1] + 1).tolist(),
    )


# ---------------------------------------------------------------- settings, history, record


@dataclass(frozen=True)
class SequenceSettings:
    """Every knob of a run. ``digits`` ``D`` per number (answers of ``D + 1`` tokens); an MLP of
    ``layers`` hidden layers of ``hidden`` units; Adam at ``lr``, ``batch_size`` fresh problems
    a step for ``steps`` steps; ``val_size`` fixed validation problems scored every
    ``eval_every`` steps; ``seed`` for the weights, the problems and their order; ``threads``
    torch CPU threads."""

    digits: int = 6
    hidden: int = 256
    layers: int = 2
    lr: float = 1e-3
    batch_size: int = 128
    steps: int = 12000
    eval_every: int = 100
    val_size: int = 2000
    seed: int = 0
    threads: int = 1

    def problems(self) -> list[str]:
        """What is wrong with these settings (empty when nothing is)."""
        problems = [
            f"{name} must be at least 1"
            for name in ("digits", "hidden", "layers", "batch_size", "steps", "eval_every", "val_size", "threads")
            if getattr(self, name) < 1
        ]
        if self.digits > 9:
            problems.append("digits must be at most 9 (the sums must fit in 64 bits comfortably)")
        if not self.lr > 0:
            problems.append("lr must be positive")
        if self.steps % self.eval_every:
            problems.append(f"steps ({self.steps}) must be a multiple of eval_every ({self.eval_every})")
        return problems


@dataclass(frozen=True)
class SequenceHistory:
    """One entry per evaluation ``E``: ``step`` (0 = before training), ``train_loss`` the mean
    per-token loss of the batches since the previous evaluation (NaN at step 0), the
    validation scores of :class:`AnswerScores` (``val_position_accuracy`` (E, L),
    ``val_wrong_tokens`` (E, L + 1)) and ``seconds`` since the first evaluation."""

    step: NDArray[np.int64]
    train_loss: FloatArray
    val_token_loss: FloatArray
    val_token_accuracy: FloatArray
    val_exact_match: FloatArray
    val_answer_probability: FloatArray
    val_position_accuracy: FloatArray
    val_wrong_tokens: NDArray[np.int64]
    seconds: FloatArray


HISTORY_FIELDS = tuple(f.name for f in fields(SequenceHistory))


@dataclass(frozen=True)
class SequenceRecord:
    """A run in memory: :func:`load_sequence_record` returns one, :func:`write_sequence_record` saves one."""

    settings: SequenceSettings
    metadata: dict[str, Any]
    history: SequenceHistory

    @property
    def answer_length(self) -> int:
        return self.settings.digits + 1

    def crossing(self, level: float = 0.5) -> int:
        """Index of the first evaluation whose exact match is at least ``level``; ValueError if none."""
        reached = np.flatnonzero(self.history.val_exact_match >= level)
        if not len(reached):
            raise ValueError(f"exact match never reaches {level} in this record")
        return int(reached[0])


def _json_value(value: float) -> float | None:
    return value if math.isfinite(value) else None


def write_sequence_record(directory: Path, record: SequenceRecord) -> Path:
    """Check ``record`` and write it to ``directory / sequence_run.json`` atomically; returns the path."""
    _check(record)
    history = {name: np.asarray(getattr(record.history, name)).tolist() for name in HISTORY_FIELDS}
    history["train_loss"] = [_json_value(v) for v in record.history.train_loss.tolist()]
    document = {
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "settings": asdict(record.settings),
        "metadata": record.metadata,
        "history": history,
    }
    path = directory / RECORD_FILE
    atomic_write(path, lambda handle: handle.write(json.dumps(document, indent=1, allow_nan=False).encode()))
    return path


def load_sequence_record(path: str | Path) -> SequenceRecord:
    """Read a record (its folder or the file itself) and check it; raises :class:`SequenceRecordError`."""
    path = Path(path)
    if path.is_dir():
        path = path / RECORD_FILE
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SequenceRecordError(f"cannot read the sequence record {path}: {error}") from error
    if not isinstance(document, dict) or document.get("format") != RECORD_FORMAT:
        raise SequenceRecordError(f"{path} is not a {RECORD_FORMAT}")
    if document.get("version") != RECORD_VERSION:
        raise SequenceRecordError(f"record version {document.get('version')} is not the supported {RECORD_VERSION}")
    missing = [key for key in ("settings", "metadata", "history") if key not in document]
    missing += [f"history.{name}" for name in HISTORY_FIELDS if name not in document.get("history", {})]
    if missing:
        raise SequenceRecordError(f"{path} lacks {', '.join(missing)}")
    try:
        settings = SequenceSettings(**document["settings"])
    except TypeError as error:
        raise SequenceRecordError(f"{path}: settings do not match SequenceSettings: {error}") from error
    columns = document["history"]
    values: dict[str, Any] = {
        name: np.array([math.nan if v is None else v for v in columns[name]], dtype=np.float64)
        if name == "train_loss"
        else np.array(columns[name], dtype=np.float64)
        for name in HISTORY_FIELDS
    }
    for name in ("step", "val_wrong_tokens"):
        values[name] = values[name].astype(np.int64)
    record = SequenceRecord(settings, document["metadata"], SequenceHistory(**values))
    _check(record)
    return record


def _check(record: SequenceRecord) -> None:
    """Raise :class:`SequenceRecordError` unless the history is consistent with the settings and itself."""
    settings, history = record.settings, record.history
    length, n = record.answer_length, settings.val_size

    def require(condition: bool | np.bool_, message: str) -> None:
        if not condition:
            raise SequenceRecordError(message)

    require(not settings.problems(), f"invalid settings: {'; '.join(settings.problems())}")
    evaluations = len(history.step)
    require(evaluations > 0 and history.step[0] == 0, "the history does not start at step 0")
    for name in HISTORY_FIELDS:
        require(len(getattr(history, name)) == evaluations, f"history {name} does not have {evaluations} entries")
    require(
        np.array_equal(history.step, np.arange(evaluations) * settings.eval_every),
        f"history steps are not 0, {settings.eval_every}, 2 x {settings.eval_every}, ...",
    )
    require(history.val_position_accuracy.shape == (evaluations, length), f"val_position_accuracy is not (E, {length})")
    require(history.val_wrong_tokens.shape == (evaluations, length + 1), f"val_wrong_tokens is not (E, {length + 1})")
    require(
        (history.val_wrong_tokens >= 0).all() and (history.val_wrong_tokens.sum(axis=1) == n).all(),
        f"val_wrong_tokens rows do not each count the {n} validation problems",
    )
    require(np.isnan(history.train_loss[0]) and np.isfinite(history.train_loss[1:]).all(), "train_loss must be missing at step 0 only")
    require(np.isfinite(history.val_token_loss).all() and (history.val_token_loss >= 0).all(), "val_token_loss is not finite")
    require(
        np.allclose(history.val_exact_match, history.val_wrong_tokens[:, 0] / n, rtol=0, atol=1e-12),
        "val_exact_match does not match val_wrong_tokens",
    )
    mean_wrong = (history.val_wrong_tokens * np.arange(length + 1)).sum(axis=1) / (n * length)
    require(
        np.allclose(history.val_token_accuracy, 1 - mean_wrong, rtol=0, atol=1e-9), "val_token_accuracy does not match val_wrong_tokens"
    )
    require(
        np.allclose(history.val_token_accuracy, history.val_position_accuracy.mean(axis=1), rtol=0, atol=1e-9),
        "val_token_accuracy does not match val_position_accuracy",
    )
    # Jensen: the mean of exp(-answer loss) is at least exp(-mean answer loss).
    require(
        (
            (history.val_answer_probability <= 1)
            & (history.val_answer_probability >= np.exp(-length * history.val_token_loss) * (1 - 1e-9))
        ).all(),
        "val_answer_probability is outside [exp(-L * val_token_loss), 1]",
    )
    require((np.diff(history.seconds) >= 0).all() and history.seconds[0] >= 0, "seconds do not increase")


# ---------------------------------------------------------------- training


def train(settings: SequenceSettings, progress: bool = True) -> SequenceRecord:
    """Train :class:`AdditionMLP` on fresh problems and score the validation set every ``eval_every`` steps."""
    if settings.problems():
        raise ValueError("; ".join(settings.problems()))
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    val_inputs, val_targets = random_problems(settings.val_size, settings.digits, rng)
    model = AdditionMLP(settings.digits, settings.hidden, settings.layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    rows: dict[str, list[Any]] = {name: [] for name in HISTORY_FIELDS}
    started_at, started = now(), time.perf_counter()

    def evaluate(step: int, train_loss: float) -> AnswerScores:
        model.eval()
        with torch.no_grad():
            scores = score_answers(model(val_inputs), val_targets)
        model.train()
        for name, value in (("step", step), ("train_loss", train_loss), ("seconds", time.perf_counter() - started)):
            rows[name].append(value)
        for name, value in asdict(scores).items():
            rows[f"val_{name}"].append(value)
        return scores

    evaluate(0, math.nan)
    losses: list[float] = []
    bar = tqdm(range(1, settings.steps + 1), desc="steps", unit="step", disable=not progress, mininterval=1.0)
    for step in bar:
        inputs, targets = random_problems(settings.batch_size, settings.digits, rng)
        loss = F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % settings.eval_every == 0:
            scores = evaluate(step, float(np.mean(losses)))
            losses.clear()
            bar.set_postfix(loss=f"{scores.token_loss:.3f}", exact=f"{scores.exact_match:.3f}", refresh=False)
    history = SequenceHistory(**{name: np.array(values) for name, values in rows.items()})
    metadata = {
        **code_version(),
        **software_versions(),
        "device": "cpu",
        "cpu": cpu_name(),
        "torch_threads": torch.get_num_threads(),
        "started": started_at,
        "wall_seconds": float(history.seconds[-1]),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    return SequenceRecord(settings, metadata, history)


# ---------------------------------------------------------------- the command


PROGRAM = "lossacc-sequences"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROGRAM,
        description="Teach a small MLP to add two numbers and record, every few steps, its per-token loss, "
        "per-token accuracy, exact match and the probability of the whole answer (the book's chapter 12).",
        epilog="example: lossacc-sequences --record-dir records/sequence-addition",
    )
    parser.add_argument("--record-dir", type=Path, required=True, metavar="DIR", help=f"folder for {RECORD_FILE}")
    parser.add_argument("--overwrite", action="store_true", help="replace a record already in DIR")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    defaults = SequenceSettings()
    for field in fields(SequenceSettings):
        parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=type(getattr(defaults, field.name)),
            default=getattr(defaults, field.name),
            metavar="N" if field.type == "int" else "X",
            help=f"(default: {getattr(defaults, field.name)})",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``lossacc-sequences --record-dir DIR [settings]``: train, then write ``DIR/sequence_run.json``."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    settings = SequenceSettings(**{f.name: getattr(arguments, f.name) for f in fields(SequenceSettings)})
    if settings.problems():
        parser.error("; ".join(settings.problems()))
    try:
        require_folder(arguments.record_dir, "--record-dir")
    except PathError as error:
        parser.error(str(error))
    target = arguments.record_dir / RECORD_FILE
    if target.exists() and not arguments.overwrite:
        parser.error(f"{target} already holds a record; pass --overwrite to replace it")
    record = train(settings, progress=not arguments.quiet)
    path = write_sequence_record(arguments.record_dir, record)
    history = record.history
    try:
        first = record.crossing(0.5)
        crossed = f"exact match first >= 0.5 at step {history.step[first]} (per-token loss {history.val_token_loss[first]:.4f})"
    except ValueError:
        crossed = "exact match never reached 0.5"
    print(
        f"{path}: {len(history.step)} evaluations in {record.metadata['wall_seconds']:.1f} s; "
        f"final per-token loss {history.val_token_loss[-1]:.4f}, exact match {history.val_exact_match[-1]:.3f}; {crossed}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
