"""The live trainer's twin: its random numbers, data, gradients and optimiser, cross-checked
against independent implementations (NumPy integer arithmetic, torch autograd, torch's label
smoothing and torch.optim.SGD, scipy's entropy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from lossacc.explorers import LiveTrainerExplorer
from lossacc.explorers.live_trainer import DROPOUTS, LABEL_SMOOTHINGS
from lossacc.live_training import (
    DROPOUT_STREAM,
    History,
    Mulberry32,
    TrainerSettings,
    divergence,
    dropout_masks,
    evaluate,
    gradients,
    init_network,
    make_dataset,
    preset_drops,
    smoothed_loss,
    smoothed_targets,
    train,
    with_settings,
)

SMALL = TrainerSettings(train_size=60, val_size=90, width=16, epochs=4, batch_size=8)


def mulberry32_numpy(seed: int, count: int) -> list[int]:
    """Mulberry32 written again with NumPy's wrapping uint32 arithmetic."""
    state = np.uint32(seed)
    out = []
    with np.errstate(over="ignore"):
        for _ in range(count):
            state = np.uint32(state + np.uint32(0x6D2B79F5))
            t = state
            t = np.uint32((t ^ (t >> np.uint32(15))) * (t | np.uint32(1)))
            t = np.uint32(t + np.uint32((t ^ (t >> np.uint32(7))) * (t | np.uint32(61)))) ^ t
            out.append(int(t ^ (t >> np.uint32(14))))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 12345, 2**32 - 1])
def test_mulberry32_matches_wrapping_uint32_arithmetic(seed: int) -> None:
    rng = Mulberry32(seed)
    assert [rng.next_uint32() for _ in range(50)] == mulberry32_numpy(seed, 50)


def test_mulberry32_known_first_value() -> None:
    # The widely published first output of mulberry32(1) in JavaScript.
    assert Mulberry32(1).uniform() == pytest.approx(0.6270739405881613, abs=1e-16)


def test_uniforms_at_once_equal_the_uniforms_one_by_one() -> None:
    one_by_one, at_once = Mulberry32(2**32 - 3), Mulberry32(2**32 - 3)  # the state wraps around
    expected = [one_by_one.uniform() for _ in range(700)]
    drawn = np.concatenate([at_once.uniforms(500), at_once.uniforms(0), at_once.uniforms(200)])
    assert drawn.tolist() == expected and at_once.state == one_by_one.state


def test_dropout_masks_drop_the_rate_and_scale_the_rest() -> None:
    first, second = dropout_masks(Mulberry32(9), 400, 64, 0.3)
    assert first.shape == second.shape == (400, 64)
    for mask in (first, second):
        assert set(np.unique(mask)) == {0.0, 1 / 0.7}
        assert 0.28 < np.mean(mask == 0) < 0.32
    # The first mask takes the first 400 * 64 uniforms, example by example.
    uniforms = Mulberry32(9).uniforms(400 * 64).reshape(400, 64)
    np.testing.assert_array_equal(first == 0, uniforms < 0.3)


def test_smoothed_loss_is_torchs_and_has_the_entropy_of_the_targets_as_floor() -> None:
    logits = np.random.default_rng(0).normal(scale=3, size=(50, 3))
    labels = np.arange(50) % 3
    for eps in LABEL_SMOOTHINGS:
        expected = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels), label_smoothing=eps, reduction="none")
        np.testing.assert_allclose(smoothed_loss(logits, labels, eps), expected.numpy(), rtol=0, atol=1e-13)
        targets = smoothed_targets(labels, eps)
        floor = entropy(targets, axis=1)
        assert np.all(smoothed_loss(logits, labels, eps) >= floor)
        if eps:  # ... reached when the predicted probabilities are the targets themselves
            np.testing.assert_allclose(smoothed_loss(np.log(targets), labels, eps), floor, rtol=1e-12, atol=1e-15)
    assert entropy([0.8, 0.1, 0.1]) == pytest.approx(0.639, abs=5e-4)  # the floor at eps = 0.3
    plain = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels), reduction="none")
    np.testing.assert_array_equal(smoothed_loss(logits, labels, 0.0), plain.numpy())


def test_normals_and_integers_have_the_right_distribution() -> None:
    rng = Mulberry32(7)
    normals = np.array([rng.normal() for _ in range(20_000)])
    assert abs(normals.mean()) < 0.03 and abs(normals.std() - 1) < 0.03
    counts = np.bincount([rng.below(3) for _ in range(30_000)], minlength=3)
    assert counts.min() > 9_500 and counts.max() < 10_500


def test_label_noise_changes_labels_only() -> None:
    noisy = make_dataset(Mulberry32(3), with_settings(SMALL, label_noise=0.3, train_size=3000))
    clean = make_dataset(Mulberry32(3), with_settings(SMALL, label_noise=0.0, train_size=3000))
    np.testing.assert_array_equal(noisy.x_train, clean.x_train)
    np.testing.assert_array_equal(clean.y_train, clean.clean_train)
    flipped = noisy.y_train != noisy.clean_train
    assert 0.27 < flipped.mean() < 0.33
    np.testing.assert_array_equal(np.bincount(noisy.clean_train), [1000, 1000, 1000])


def test_schedule() -> None:
    assert preset_drops(200, "steps") == (61, 121, 161)
    assert preset_drops(200, "none") == ()
    with pytest.raises(ValueError, match="unknown schedule preset"):
        preset_drops(200, "cosine")
    settings = with_settings(SMALL, lr=0.1, drops=(3, 5))
    assert [settings.lr_at(e) for e in (1, 2, 3, 4, 5)] == pytest.approx([0.1, 0.1, 0.02, 0.02, 0.004])


def torch_logits(params: list[torch.Tensor], x: torch.Tensor, masks: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """The network in torch; ``masks`` are applied after each hidden ReLU (dropout)."""
    w1, b1, w2, b2, w3, b3 = params
    m1, m2 = masks or (1.0, 1.0)
    return (torch.relu(torch.relu(x @ w1 + b1) * m1 @ w2 + b2) * m2) @ w3 + b3


def torch_masks(rng: Mulberry32, rows: int, width: int, rate: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Dropout masks drawn again one uniform at a time: first layer, then second, row by row."""
    def mask() -> torch.Tensor:
        kept = [[rng.uniform() >= rate for _ in range(width)] for _ in range(rows)]
        return torch.tensor(kept, dtype=torch.float64) / (1 - rate)

    first = mask()
    return first, mask()


@pytest.mark.parametrize(("dropout", "smoothing"), [(0.0, 0.0), (0.3, 0.0), (0.0, 0.2), (0.5, 0.1)])
def test_gradients_match_torch_autograd(dropout: float, smoothing: float) -> None:
    rng = Mulberry32(5)
    data = make_dataset(rng, SMALL)
    net = init_network(rng, SMALL.width)
    x, y = data.x_train[:13], data.y_train[:13]
    masks = dropout_masks(Mulberry32(11), 13, SMALL.width, dropout) if dropout else None
    grad_w, grad_b, logits, losses = gradients(net, x, y, smoothing, masks)
    params = [torch.tensor(p, requires_grad=True) for pair in zip(net.w, net.b) for p in pair]
    out = torch_logits(params, torch.tensor(x), torch_masks(Mulberry32(11), 13, SMALL.width, dropout) if dropout else None)
    loss = torch.nn.functional.cross_entropy(out, torch.tensor(y), label_smoothing=smoothing)
    loss.backward()
    np.testing.assert_allclose(logits, out.detach().numpy(), rtol=0, atol=1e-13)
    np.testing.assert_allclose(losses.mean(), loss.item(), rtol=0, atol=1e-14)
    torch_grads = [p.grad.numpy() for p in params if p.grad is not None]
    assert len(torch_grads) == 6
    for k in range(3):
        np.testing.assert_allclose(grad_w[k], torch_grads[2 * k], rtol=0, atol=1e-14)
        np.testing.assert_allclose(grad_b[k], torch_grads[2 * k + 1], rtol=0, atol=1e-14)


@pytest.mark.parametrize(("weight_decay", "dropout", "smoothing"), [(0.0, 0.0, 0.0), (1e-3, 0.0, 0.0), (1e-3, 0.3, 0.1)])
def test_training_matches_torch_sgd(weight_decay: float, dropout: float, smoothing: float) -> None:
    """The whole run, again with torch autograd and torch.optim.SGD (momentum, weight decay,
    a learning-rate drop, dropout and label smoothing in training only), fed the same data,
    initial weights, shuffles and dropout masks."""
    settings = with_settings(SMALL, weight_decay=weight_decay, drops=(3,), label_noise=0.3, dropout=dropout, label_smoothing=smoothing)
    history = train(settings).history
    rng = Mulberry32(settings.seed)
    dropout_rng = Mulberry32(settings.seed + DROPOUT_STREAM)
    data = make_dataset(rng, settings)
    net = init_network(rng, settings.width)
    params = [torch.tensor(p, requires_grad=True) for pair in zip(net.w, net.b) for p in pair]
    optimizer = torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum, weight_decay=weight_decay)
    x_train, y_train = torch.tensor(data.x_train), torch.tensor(data.y_train)
    x_val, y_val = torch.tensor(data.x_val), torch.tensor(data.y_val)
    for epoch in range(1, settings.epochs + 1):
        for group in optimizer.param_groups:
            group["lr"] = settings.lr_at(epoch)
        order = list(range(settings.train_size))
        for i in range(settings.train_size - 1, 0, -1):
            j = rng.below(i + 1)
            order[i], order[j] = order[j], order[i]
        loss_sum, right = 0.0, 0
        for start in range(0, settings.train_size, settings.batch_size):
            batch = torch.tensor(order[start:start + settings.batch_size])
            masks = torch_masks(dropout_rng, len(batch), settings.width, dropout) if dropout else None
            logits = torch_logits(params, x_train[batch], masks)
            losses = torch.nn.functional.cross_entropy(logits, y_train[batch], reduction="none", label_smoothing=smoothing)
            loss_sum += losses.sum().item()
            right += int((logits.argmax(dim=1) == y_train[batch]).sum())
            optimizer.zero_grad()
            losses.mean().backward()
            optimizer.step()
        with torch.no_grad():
            val_logits = torch_logits(params, x_val)
            val_loss = torch.nn.functional.cross_entropy(val_logits, y_val).item()
            val_accuracy = (val_logits.argmax(dim=1) == y_val).double().mean().item()
        e = epoch - 1
        assert history.lr[e] == settings.lr_at(epoch)
        assert history.train_loss[e] == pytest.approx(loss_sum / settings.train_size, abs=1e-12)
        assert history.train_accuracy[e] == right / settings.train_size
        assert history.val_loss[e] == pytest.approx(val_loss, abs=1e-12)
        assert history.val_accuracy[e] == pytest.approx(val_accuracy, abs=1e-15)


def test_a_shorter_run_is_the_start_of_the_longer_one() -> None:
    long_run = train(with_settings(SMALL, drops=(2,)))
    short_run = train(with_settings(SMALL, drops=(2,), epochs=2))
    np.testing.assert_array_equal(short_run.history.val_loss, long_run.history.val_loss[:2])
    losses, right = evaluate(short_run.net, short_run.data.x_val, short_run.data.y_val)
    assert losses.mean() == pytest.approx(short_run.history.val_loss[-1], abs=1e-15)
    assert right.mean() == short_run.history.val_accuracy[-1]


def test_divergence_reads_the_minimum_and_the_rise() -> None:
    history = History(
        lr=np.full(5, 0.1), train_loss=np.zeros(5), train_accuracy=np.zeros(5),
        val_loss=np.array([1.0, 0.6, 0.5, 0.55, 0.6]), val_accuracy=np.array([0.5, 0.6, 0.7, 0.72, 0.75]),
    )
    d = divergence(history)
    assert (d.best_epoch, d.best_loss, d.final_loss, d.accuracy_at_best, d.final_accuracy) == (3, 0.5, 0.6, 0.7, 0.75)
    assert d.rise == pytest.approx(0.2)


@pytest.mark.slow
def test_dropout_and_label_smoothing_put_the_validation_loss_below_the_training_loss() -> None:
    """What a reader can do with the controls: by default the training loss ends far below the
    validation loss; with label smoothing 0.3 (a shipped value) the training loss the page plots
    (against the smoothed targets) stays above the plain validation loss at every epoch; without
    label noise, dropout 0.3 alone keeps the plotted training loss (dropout on) above the
    validation loss (no dropout) over the whole second half of the run."""
    settings = with_settings(TrainerSettings(), drops=preset_drops(TrainerSettings().epochs, "steps"))
    default = train(settings).history
    assert np.all(default.val_loss[100:] > default.train_loss[100:] + 0.3)
    smoothed = train(with_settings(settings, label_smoothing=0.3)).history
    assert np.all(smoothed.val_loss < smoothed.train_loss)
    assert smoothed.train_loss.min() > entropy([0.8, 0.1, 0.1])  # above its floor
    dropped = train(with_settings(settings, label_noise=0.0, dropout=0.3)).history
    assert np.all(dropped.val_loss[100:] < dropped.train_loss[100:])


def test_explorer_ships_the_settings_and_refuses_values_it_has_no_control_for() -> None:
    explorer = LiveTrainerExplorer.from_settings()
    shipped = dict(explorer.data["settings"])
    assert TrainerSettings(**shipped) == TrainerSettings()
    assert shipped["dropout"] == shipped["label_smoothing"] == 0.0  # the chapter's run has neither
    assert (explorer.data["dropouts"], explorer.data["label_smoothings"]) == (list(DROPOUTS), list(LABEL_SMOOTHINGS))
    for name in ("weight_decay", "dropout", "label_smoothing", "width"):
        assert shipped[name] in explorer.data[name + "s"]
    with pytest.raises(ValueError, match="width"):
        LiveTrainerExplorer.from_settings(with_settings(TrainerSettings(), width=48))
    with pytest.raises(ValueError, match="dropout"):
        LiveTrainerExplorer.from_settings(with_settings(TrainerSettings(), dropout=0.4))
    with pytest.raises(ValueError, match="label_smoothing"):
        LiveTrainerExplorer.from_settings(with_settings(TrainerSettings(), label_smoothing=0.15))
    with pytest.raises(ValueError, match="unknown schedule preset"):
        LiveTrainerExplorer.from_settings(preset="cosine")
    assert math.isclose(explorer.data["extent"], 2.24)
