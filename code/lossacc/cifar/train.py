"""The epoch loop: train the CIFAR ResNet18, score each epoch, checkpoint, and write the record.

Speed on a GPU comes from keeping everything there: the uint8 images live on the device, each
batch is gathered, augmented and normalised there, the model runs channels-last under bf16
autocast, the optimizer step is fused, and the epoch's scores are computed on the device and
read back once (:mod:`lossacc.cifar.scoring`).

Reproducibility: the model is initialised from ``seed``, and epoch ``e``'s data order and
augmentation come from a generator seeded with ``(seed, e)``. The checkpoint (model, optimizer,
what has been recorded) therefore fixes everything that follows: a run killed at any point and
resumed from its last checkpoint repeats the uninterrupted run.

What the loop leans on, one job a module: :mod:`~lossacc.cifar.config` (the settings),
:mod:`~lossacc.cifar.options` (device and speed options), :mod:`~lossacc.cifar.splits`,
:mod:`~lossacc.cifar.scoring`, :mod:`~lossacc.cifar.recording` (state and record),
:mod:`~lossacc.cifar.checkpoint` and :mod:`~lossacc.cifar.provenance`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from lossacc.cifar.augment import random_crop_flip, to_network_input
from lossacc.cifar.checkpoint import CHECKPOINT_FILE, save_checkpoint, start_or_resume
from lossacc.cifar.config import ConfigError, TrainConfig
from lossacc.cifar.data import CifarData
from lossacc.cifar.files import atomic_write, hold_folders, remove_stale_temporaries
from lossacc.cifar.options import RunOptions, Runtime
from lossacc.cifar.provenance import code_version, now, software_versions
from lossacc.cifar.record import HISTORY_FIELDS, write_record
from lossacc.cifar.recording import PROGRESS_FILE, RunState, build_record, check_record_folder
from lossacc.cifar.resnet import ResNet18
from lossacc.cifar.scoring import score_epoch
from lossacc.cifar.splits import Splits

StepHook = Callable[[int, int], None]


class DivergedError(ValueError):
    """The loss became non-finite: the epoch is not recorded and the run stops."""


@dataclass(frozen=True)
class TrainResult:
    record_dir: Path
    epochs_done: int
    epochs_planned: int

    @property
    def complete(self) -> bool:
        return self.epochs_done == self.epochs_planned


def train(
    config: TrainConfig,
    data: CifarData,
    run_dir: Path,
    options: RunOptions | None = None,
    *,
    record_dir: Path | None = None,
    step_hook: StepHook | None = None,
) -> TrainResult:
    """Train (or continue training) into ``run_dir``; write the record to ``record_dir``
    (default ``run_dir/record``) every ``options.record_every`` epochs and when the session ends.

    ``step_hook(epoch, step)`` runs after every optimizer step (tests use it to kill a run).
    Raises :class:`DivergedError` when an epoch's loss is not finite, after recording the epochs before it.
    The run holds ``run_dir`` and ``record_dir`` while it works (:func:`~lossacc.cifar.files.hold_folders`):
    a second run on either is refused with a :class:`~lossacc.cifar.files.PathError`.
    """
    record_dir = record_dir or run_dir / "record"
    with hold_folders({run_dir: "the run folder", record_dir: "the record folder"}):
        return _train(config, data, run_dir, options or RunOptions(), record_dir, step_hook)


def _train(
    config: TrainConfig,
    data: CifarData,
    run_dir: Path,
    options: RunOptions,
    record_dir: Path,
    step_hook: StepHook | None,
) -> TrainResult:
    """:func:`train`, with the folders held."""
    session_start = time.perf_counter()
    runtime = Runtime.resolve(options)
    splits = Splits.select(data, config)
    settings, data_sha256 = config.settings(), data.source.sha256
    checkpoint_path = run_dir / CHECKPOINT_FILE
    for folder in (run_dir, record_dir):
        remove_stale_temporaries(folder)

    torch.manual_seed(config.seed)
    try:
        model = ResNet18(len(data.classes), config.width).to(runtime.device)
    except (RuntimeError, MemoryError) as error:  # torch.OutOfMemoryError is a RuntimeError
        raise ConfigError(
            f"a ResNet18 of width {config.width} does not fit in the memory of {runtime.device} "
            f"(about {11.2e6 * (config.width / 64) ** 2:.3g} parameters); use a smaller --width"
        ) from error
    if runtime.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = make_optimizer(model, config, runtime)
    state = start_or_resume(checkpoint_path, options.resume, settings, data_sha256, model, optimizer, runtime.device)
    check_record_folder(record_dir, settings, data_sha256, state.created, overwrite=options.overwrite_record)

    def save(record: bool) -> None:
        save_checkpoint(checkpoint_path, settings, data_sha256, model, optimizer, state)
        if record:
            write_record(record_dir, build_record(state, config, data, splits))

    if state.epochs_done == config.epochs:
        write_record(record_dir, build_record(state, config, data, splits))
        return TrainResult(record_dir, state.epochs_done, config.epochs)
    if runtime.device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    def on_device(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(runtime.device)

    train_images, train_labels = on_device(data.train_images[splits.train]), on_device(data.train_labels[splits.train])
    train_eval_images = on_device(data.train_images[splits.train_eval])
    train_eval_labels = on_device(data.train_labels[splits.train_eval])
    val_images, val_labels = on_device(data.test_images[splits.val]), on_device(data.test_labels[splits.val])
    fit_mask = on_device(splits.calibration_fit_mask)

    session = {"started": now(), "first_epoch": state.epochs_done + 1, "last_epoch": state.epochs_done}
    session |= {"device": runtime.describe(), **software_versions(), **code_version()}
    state.sessions.append(session)
    session_epoch_seconds: list[float] = []
    epochs_bar = tqdm(
        total=config.epochs, initial=state.epochs_done, desc="epochs", unit="epoch", disable=None if options.progress else True
    )
    with epochs_bar:
        while state.epochs_done < config.epochs:
            epoch = state.epochs_done + 1
            lr = config.learning_rate(epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            started = time.perf_counter()
            train_loss, train_acc = train_one_epoch(
                model,
                optimizer,
                train_images,
                train_labels,
                config,
                runtime,
                epoch_generator(config.seed, epoch, runtime.device),
                epoch=epoch,
                progress=options.progress,
                step_hook=step_hook,
            )
            train_seconds = time.perf_counter() - started
            val_logits = predict_logits(model, val_images, runtime)
            scores = score_epoch(
                val_logits,
                val_labels,
                fit_mask,
                predict_logits(model, train_eval_images, runtime),
                train_eval_labels,
                config.ece_bins,
            )
            epoch_scores = {
                "epoch": epoch,
                "lr": lr,
                "train_loss": train_loss,
                "train_acc": train_acc,
                **scores.scalars,
                "train_seconds": train_seconds,
            }
            _stop_if_diverged(
                epoch_scores, scores.val_loss, state, lambda: write_record(record_dir, build_record(state, config, data, splits))
            )
            state.val_loss.append(scores.val_loss.astype(np.float16))
            state.val_pred.append(scores.val_pred.astype(np.int8))
            if epoch in config.kept_logit_epochs():
                state.logit_epochs.append(epoch)
                state.val_logits.append(val_logits.cpu().numpy())
            epoch_scores["epoch_seconds"] = time.perf_counter() - started
            for name in HISTORY_FIELDS:
                state.history[name].append(epoch_scores[name])
            session["last_epoch"] = epoch
            session["seconds"] = time.perf_counter() - session_start  # wall time, set-up included
            session_epoch_seconds.append(epoch_scores["epoch_seconds"])
            stop = _session_over(options, epoch, time.perf_counter() - session_start, epoch_scores["epoch_seconds"])
            record_now = epoch % options.record_every == 0 or stop or epoch == config.epochs
            if record_now or epoch % runtime.checkpoint_every == 0:
                save(record=record_now)
            _write_progress(run_dir, epoch_scores, config.epochs, session_epoch_seconds, stop)
            epochs_bar.update()
            if options.progress:
                tqdm.write(_epoch_line(epoch_scores, config.epochs))
            if stop:
                break
    return TrainResult(record_dir, state.epochs_done, config.epochs)


def make_optimizer(model: torch.nn.Module, config: TrainConfig, runtime: Runtime) -> torch.optim.Optimizer:
    """The recipe's SGD; fused into one kernel a step on a GPU that supports it."""
    return torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
        **({"fused": True} if runtime.fused_sgd else {}),
    )


def epoch_generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    """The generator for epoch ``epoch``'s data order and augmentation, seeded from ``(seed, epoch)``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))
    return generator


def train_one_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: TrainConfig,
    runtime: Runtime,
    generator: torch.Generator,
    *,
    epoch: int,
    progress: bool = False,
    step_hook: StepHook | None = None,
) -> tuple[float, float]:
    """One pass over ``images`` (uint8 (N, 32, 32, 3) on the device) in a random order; returns
    the running mean loss and accuracy of the augmented batches, read from the device once."""
    model.train()
    count = len(labels)
    order = torch.randperm(count, device=runtime.device, generator=generator)
    loss_sum = torch.zeros((), device=runtime.device)
    correct = torch.zeros((), device=runtime.device, dtype=torch.long)
    starts = range(0, count, config.batch_size)
    for step, start in enumerate(
        tqdm(starts, desc=f"epoch {epoch}", leave=False, disable=None if progress else True, unit="batch")
    ):
        index = order[start : start + config.batch_size]
        batch = random_crop_flip(images[index], config.crop_padding, config.hflip, generator)
        targets = labels[index]
        with runtime.autocast():
            logits = model(to_network_input(batch, runtime.channels_last))
            loss = F.cross_entropy(logits, targets, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(index)
        correct += (logits.argmax(dim=1) == targets).sum()
        if step_hook is not None:
            step_hook(epoch, step)
    return loss_sum.item() / count, correct.item() / count


@torch.no_grad()
def predict_logits(model: torch.nn.Module, images: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    """Eval-mode logits ``float32 (n, K)``, on the device, of un-augmented images (uint8 (n, 32, 32, 3) there)."""
    model.eval()
    chunks = []
    for start in range(0, len(images), runtime.eval_batch_size):
        with runtime.autocast():
            batch = images[start : start + runtime.eval_batch_size]
            chunks.append(model(to_network_input(batch, runtime.channels_last)).float())
    return torch.cat(chunks)


def _stop_if_diverged(
    scores: dict[str, Any], val_loss: np.ndarray, state: RunState, record_good_epochs: Callable[[], None]
) -> None:
    """Raise :class:`DivergedError` if a loss of this epoch is not finite (or overflows the
    record's float16), after writing the record of the epochs before it (the checkpoint keeps
    its last good epoch: the diverged weights are not saved)."""
    names = ("train_loss", "train_eval_loss", "val_loss")
    if all(math.isfinite(scores[name]) for name in names) and val_loss.max() < np.finfo(np.float16).max:
        return
    if state.epochs_done:
        record_good_epochs()
        kept = f"the record keeps epochs 1-{state.epochs_done}"
    else:
        kept = "no epoch was good enough to record"
    losses = ", ".join(f"{name.replace('_', ' ')} {scores[name]:.4g}" for name in names)
    raise DivergedError(
        f"training diverged in epoch {scores['epoch']} ({losses}; learning rate {scores['lr']:.4g}); {kept}"
    )


def _session_over(options: RunOptions, epochs_done: int, session_seconds: float, last_epoch_seconds: float) -> bool:
    if options.stop_after_epochs is not None and epochs_done >= options.stop_after_epochs:
        return True
    budget = options.time_budget_seconds
    return budget is not None and session_seconds + last_epoch_seconds > budget


def _write_progress(
    run_dir: Path, scores: dict[str, Any], epochs: int, session_epoch_seconds: list[float], stopping: bool
) -> None:
    """``run_dir/progress.json``: the latest epoch's headline numbers and this session's epoch times (for polling)."""
    progress = {
        "epoch": scores["epoch"],
        "epochs": epochs,
        "lr": scores["lr"],
        "val_loss": scores["val_loss"],
        "val_acc": scores["val_acc"],
        "session_epoch_seconds": session_epoch_seconds,
        "session_ending": stopping or scores["epoch"] == epochs,
        "updated": now(),
    }
    atomic_write(run_dir / PROGRESS_FILE, lambda handle: handle.write(json.dumps(progress).encode()))


def _epoch_line(scores: dict[str, Any], epochs: int) -> str:
    return (
        f"epoch {scores['epoch']:>3}/{epochs}  lr {scores['lr']:.4g}  "
        f"train {scores['train_loss']:.3f} / {100 * scores['train_acc']:.1f}%  "
        f"train(eval) {scores['train_eval_loss']:.3f} / {100 * scores['train_eval_acc']:.1f}%  "
        f"val {scores['val_loss']:.3f} / {100 * scores['val_acc']:.1f}%  "
        f"ECE {scores['val_ece']:.3f}  T {scores['temperature']:.2f}  {scores['epoch_seconds']:.1f}s"
    )
