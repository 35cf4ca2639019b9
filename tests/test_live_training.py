"""The live trainer's twin: its random numbers, data, gradients and optimiser, cross-checked
against independent implementations (NumPy integer arithmetic, torch autograd and torch.optim.SGD)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lossacc.explorers import LiveTrainerExplorer
from lossacc.live_training import (
    History,
    Mulberry32,
    TrainerSettings,
    divergence,
    evaluate,
    gradients,
    init_network,
    make_dataset,
    preset_drops,
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


def torch_logits(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    w1, b1, w2, b2, w3, b3 = params
    return torch.relu(torch.relu(x @ w1 + b1) @ w2 + b2) @ w3 + b3


def test_gradients_match_torch_autograd() -> None:
    rng = Mulberry32(5)
    data = make_dataset(rng, SMALL)
    net = init_network(rng, SMALL.width)
    x, y = data.x_train[:13], data.y_train[:13]
    grad_w, grad_b, logits, losses = gradients(net, x, y)
    params = [torch.tensor(p, requires_grad=True) for pair in zip(net.w, net.b) for p in pair]
    out = torch_logits(params, torch.tensor(x))
    loss = torch.nn.functional.cross_entropy(out, torch.tensor(y))
    loss.backward()
    np.testing.assert_allclose(logits, out.detach().numpy(), rtol=0, atol=1e-13)
    np.testing.assert_allclose(losses.mean(), loss.item(), rtol=0, atol=1e-14)
    torch_grads = [p.grad.numpy() for p in params if p.grad is not None]
    assert len(torch_grads) == 6
    for k in range(3):
        np.testing.assert_allclose(grad_w[k], torch_grads[2 * k], rtol=0, atol=1e-14)
        np.testing.assert_allclose(grad_b[k], torch_grads[2 * k + 1], rtol=0, atol=1e-14)


@pytest.mark.parametrize("weight_decay", [0.0, 1e-3])
def test_training_matches_torch_sgd(weight_decay: float) -> None:
    """The whole run, again with torch autograd and torch.optim.SGD (momentum, weight decay,
    a learning-rate drop), fed the same data, initial weights and shuffles."""
    settings = with_settings(SMALL, weight_decay=weight_decay, drops=(3,), label_noise=0.3)
    history = train(settings).history
    rng = Mulberry32(settings.seed)
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
            logits = torch_logits(params, x_train[batch])
            losses = torch.nn.functional.cross_entropy(logits, y_train[batch], reduction="none")
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


def test_explorer_ships_the_settings_and_refuses_values_it_has_no_control_for() -> None:
    explorer = LiveTrainerExplorer.from_settings()
    shipped = dict(explorer.data["settings"])
    assert TrainerSettings(**shipped) == TrainerSettings()
    assert shipped["weight_decay"] in explorer.data["weight_decays"] and shipped["width"] in explorer.data["widths"]
    with pytest.raises(ValueError, match="width"):
        LiveTrainerExplorer.from_settings(with_settings(TrainerSettings(), width=48))
    with pytest.raises(ValueError, match="unknown schedule preset"):
        LiveTrainerExplorer.from_settings(preset="cosine")
    assert math.isclose(explorer.data["extent"], 2.24)
