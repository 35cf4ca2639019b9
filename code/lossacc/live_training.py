"""A small network trained on a 2-D dataset: the float64 twin of the live trainer's JavaScript.

The chapter "Watch it overfit" trains a multilayer perceptron in the page. This module does
the same training in NumPy, step for step, so that the book can assert what the page shows
and the browser test can check the page against it. Everything random comes from one
explicit generator, :class:`Mulberry32`, written out in both languages (not ``Math.random``
nor NumPy's generators), in this order: the training points, the validation points, the
weights, then one shuffle of the training set per epoch. The dropout masks come from a second
generator of their own, ``Mulberry32(seed + DROPOUT_STREAM)``, so that runs that differ only
in dropout see the same data, weights and shuffles.

The data: three spiral arms (one per class) with Gaussian jitter; a share ``label_noise`` of
the labels, in the training and the validation set alike, is replaced by another class at
random. The network: 2 inputs, two
ReLU layers of ``width`` units, 3 logits, He-uniform weights, zero biases. The optimiser:
mini-batch SGD with momentum and weight decay exactly as ``torch.optim.SGD`` does it,

    g = grad + wd * w,   v = mu * v + g,   w = w - lr * v   (v = g at the first step),

with the learning rate of each epoch from a schedule of drops (times 0.2 each).

Two regularisers act on training only. Dropout with rate p zeroes each hidden unit of each
training example with probability p, afresh for every mini-batch, and multiplies the units
kept by 1 / (1 - p) (inverted dropout), so the network is used as it is, without dropout, to
score. Label smoothing with eps trains on the targets q = (1 - eps) one_hot(y) + eps / 3:
the training loss -sum_j q_j ln p_j, whose gradient with respect to the logits is p - q, has
the floor H(q) > 0. The validation loss is always the plain cross-entropy of the network
without dropout.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

CLASSES = 3
DROP_FACTOR = 0.2
MASK32 = 0xFFFFFFFF
MULBERRY_STEP = 0x6D2B79F5
DROPOUT_STREAM = 0x9E3779B9  # the dropout masks' generator is Mulberry32(seed + DROPOUT_STREAM)

Array = NDArray[np.float64]


class Mulberry32:
    """Mulberry32, a 32-bit generator (Tommy Ettinger's), in the same integer steps as the JavaScript."""

    def __init__(self, seed: int) -> None:
        self.state = seed & MASK32

    def next_uint32(self) -> int:
        """The next 32-bit unsigned integer."""
        self.state = (self.state + MULBERRY_STEP) & MASK32
        t = self.state
        t = ((t ^ (t >> 15)) * (t | 1)) & MASK32
        t = ((t + (((t ^ (t >> 7)) * (t | 61)) & MASK32)) & MASK32) ^ t
        return t ^ (t >> 14)

    def uniform(self) -> float:
        """A uniform number in [0, 1): the next integer divided by 2**32."""
        return self.next_uint32() / 4294967296.0

    def uniforms(self, count: int) -> Array:
        """The next ``count`` uniforms at once, equal to ``count`` calls of :meth:`uniform`.

        The state only counts up by a constant, so the states of the next ``count`` draws are
        known in advance and the same integer steps run on all of them together (uint64
        arrays, masked to 32 bits after each product, as ``Math.imul`` keeps the low 32 bits).
        """
        states = (self.state + np.arange(1, count + 1, dtype=np.uint64) * MULBERRY_STEP) & MASK32
        if count:
            self.state = int(states[-1])
        t = ((states ^ (states >> 15)) * (states | 1)) & MASK32
        t = ((t + (((t ^ (t >> 7)) * (t | 61)) & MASK32)) & MASK32) ^ t
        return (t ^ (t >> 14)) / 4294967296.0

    def normal(self) -> float:
        """A standard normal number by Box–Muller: sqrt(-2 ln(1 - u1)) cos(2 pi u2)."""
        u1 = self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)

    def below(self, n: int) -> int:
        """A uniform integer in 0..n-1: floor(u * n)."""
        return math.floor(self.uniform() * n)


@dataclass(frozen=True)
class TrainerSettings:
    """Everything that decides a run; the explorer's controls set the same fields."""

    seed: int = 2
    train_size: int = 300
    val_size: int = 1000
    label_noise: float = 0.2
    radius: float = 2.0
    jitter: float = 0.12
    turns: float = 0.8
    width: int = 64
    epochs: int = 200
    batch_size: int = 10
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    dropout: float = 0.0
    label_smoothing: float = 0.0
    drops: tuple[int, ...] = field(default=())

    def lr_at(self, epoch: int) -> float:
        """Learning rate of epoch ``epoch`` (1-based): lr * 0.2^(drops at or before it)."""
        return self.lr * DROP_FACTOR ** sum(1 for d in self.drops if d <= epoch)


def preset_drops(epochs: int, preset: str) -> tuple[int, ...]:
    """The explorer's preset schedules: ``"steps"`` drops at 30%, 60% and 80% of the run; ``"none"``."""
    if preset == "none":
        return ()
    if preset == "steps":
        return tuple(math.floor(epochs * share) + 1 for share in (0.3, 0.6, 0.8))
    raise ValueError(f"unknown schedule preset {preset!r}: use 'steps' or 'none'")


@dataclass(frozen=True)
class Dataset:
    """Points ``x`` (n, 2) with their labels ``y``; ``clean`` are the arms' classes before label noise."""

    x_train: Array
    y_train: NDArray[np.int64]
    clean_train: NDArray[np.int64]
    x_val: Array
    y_val: NDArray[np.int64]
    clean_val: NDArray[np.int64]


def _spiral_points(rng: Mulberry32, count: int, settings: TrainerSettings) -> tuple[Array, NDArray[np.int64], NDArray[np.int64]]:
    """``count`` points; point i is on arm i mod 3 at t ~ U(0,1): radius R (0.1 + 0.9 t), angle
    2 pi (c/3 + turns t), plus N(0, jitter^2) on each coordinate. Two more uniforms decide
    label noise (drawn for every point, so the points do not depend on the noise level)."""
    x = np.empty((count, 2))
    labels = np.empty(count, dtype=np.int64)
    clean = np.empty(count, dtype=np.int64)
    for i in range(count):
        c = i % CLASSES
        t = rng.uniform()
        radius = settings.radius * (0.1 + 0.9 * t)
        angle = 2.0 * math.pi * (c / CLASSES + settings.turns * t)
        x[i, 0] = radius * math.cos(angle) + settings.jitter * rng.normal()
        x[i, 1] = radius * math.sin(angle) + settings.jitter * rng.normal()
        flip = rng.uniform()
        other = rng.below(CLASSES - 1)
        clean[i] = c
        labels[i] = (c + 1 + other) % CLASSES if flip < settings.label_noise else c
    return x, labels, clean


def make_dataset(rng: Mulberry32, settings: TrainerSettings) -> Dataset:
    """The training points, then the validation points; label noise hits both alike."""
    x_train, y_train, clean_train = _spiral_points(rng, settings.train_size, settings)
    x_val, y_val, clean_val = _spiral_points(rng, settings.val_size, settings)
    return Dataset(x_train, y_train, clean_train, x_val, y_val, clean_val)


@dataclass
class Network:
    """Weights ``w[k]`` (fan_in, fan_out) and biases ``b[k]`` of the three layers."""

    w: list[Array]
    b: list[Array]


def init_network(rng: Mulberry32, width: int) -> Network:
    """He-uniform weights, U(-a, a) with a = sqrt(6 / fan_in), drawn row by row; zero biases."""
    sizes = [2, width, width, CLASSES]
    weights, biases = [], []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = math.sqrt(6.0 / fan_in)
        w = np.array([[(2.0 * rng.uniform() - 1.0) * bound for _ in range(fan_out)] for _ in range(fan_in)])
        weights.append(w)
        bias_bound = 1.0 / math.sqrt(fan_in)
        biases.append(np.array([(2.0 * rng.uniform() - 1.0) * bias_bound for _ in range(fan_out)]))
    return Network(weights, biases)


Masks = tuple[Array, Array]


def forward(net: Network, x: Array, masks: Masks | None = None) -> tuple[Array, Array, Array]:
    """Hidden activations h1 = relu(x W1 + b1) m1, h2 = relu(h1 W2 + b2) m2 and logits h2 W3 + b3;
    the dropout masks m1, m2 (0 or 1 / (1 - p) per unit and example) are 1 without ``masks``."""
    m1, m2 = masks or (1.0, 1.0)
    h1 = np.maximum(x @ net.w[0] + net.b[0], 0.0) * m1
    h2 = np.maximum(h1 @ net.w[1] + net.b[1], 0.0) * m2
    return h1, h2, h2 @ net.w[2] + net.b[2]


def dropout_masks(rng: Mulberry32, rows: int, width: int, rate: float) -> Masks:
    """The masks of one mini-batch: ``rows * width`` uniforms for the first hidden layer (example
    by example), then as many for the second; a unit is dropped where its uniform is below
    ``rate``, and kept units are scaled by 1 / (1 - rate)."""
    scale = 1.0 / (1.0 - rate)
    first, second = (np.where(rng.uniforms(rows * width).reshape(rows, width) < rate, 0.0, scale) for _ in range(2))
    return first, second


def per_example_loss(logits: Array, labels: NDArray[np.int64]) -> Array:
    """Cross-entropy -(z_y - m - ln sum_j e^(z_j - m)), m = max_j z_j (as ``lossFromLogits`` in the page)."""
    top = logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(logits - top).sum(axis=1))
    return -(logits[np.arange(len(labels)), labels] - top[:, 0] - log_sum)


def evaluate(net: Network, x: Array, labels: NDArray[np.int64]) -> tuple[Array, NDArray[np.bool_]]:
    """Per-example cross-entropy and whether the predicted class (argmax) is the label."""
    logits = forward(net, x)[2]
    return per_example_loss(logits, labels), logits.argmax(axis=1) == labels


def smoothed_targets(labels: NDArray[np.int64], smoothing: float) -> Array:
    """Targets q = (1 - eps) one_hot(y) + eps / 3 (exactly the one-hot labels at eps = 0)."""
    targets = np.zeros((len(labels), CLASSES))
    targets[np.arange(len(labels)), labels] = 1.0 - smoothing
    return targets + smoothing / CLASSES


def smoothed_loss(logits: Array, labels: NDArray[np.int64], smoothing: float) -> Array:
    """Per-example -sum_j q_j ln p_j = (1 - eps) CE(y) + eps (CE(0) + CE(1) + CE(2)) / 3, where
    CE(k) is the cross-entropy with class k as label (equal to :func:`per_example_loss` at eps = 0)."""
    each_class = [per_example_loss(logits, np.full(len(labels), k)) for k in range(CLASSES)]
    return (1.0 - smoothing) * per_example_loss(logits, labels) + smoothing * (each_class[0] + each_class[1] + each_class[2]) / CLASSES


def gradients(
    net: Network, x: Array, labels: NDArray[np.int64], smoothing: float = 0.0, masks: Masks | None = None
) -> tuple[list[Array], list[Array], Array, Array]:
    """Gradients of the batch's mean training loss (label smoothing ``smoothing``, dropout
    ``masks``); also the batch's logits and per-example training losses."""
    m1, m2 = masks or (1.0, 1.0)
    h1, h2, logits = forward(net, x, masks)
    top = logits.max(axis=1, keepdims=True)
    exps = np.exp(logits - top)
    probs = exps / exps.sum(axis=1, keepdims=True)
    d_logits = (probs - smoothed_targets(labels, smoothing)) / len(labels)
    d_h2 = (d_logits @ net.w[2].T) * m2 * (h2 > 0)
    d_h1 = (d_h2 @ net.w[1].T) * m1 * (h1 > 0)
    grad_w = [x.T @ d_h1, h1.T @ d_h2, h2.T @ d_logits]
    grad_b = [d_h1.sum(axis=0), d_h2.sum(axis=0), d_logits.sum(axis=0)]
    return grad_w, grad_b, logits, smoothed_loss(logits, labels, smoothing)


@dataclass(frozen=True)
class History:
    """Per-epoch numbers of a run (index e is epoch e + 1). Training loss and accuracy are the
    means over the epoch's mini-batches, as the optimiser saw them (noisy labels, moving weights,
    dropout on, the loss against the smoothed targets); the validation numbers are those of the
    network at the end of the epoch, without dropout, on the plain cross-entropy."""

    lr: Array
    train_loss: Array
    train_accuracy: Array
    val_loss: Array
    val_accuracy: Array

    def as_dict(self) -> dict[str, list[float]]:
        return {name: getattr(self, name).tolist() for name in ("lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy")}


@dataclass
class Run:
    """A training run: its settings, data, final network and history."""

    settings: TrainerSettings
    data: Dataset
    net: Network
    history: History


def train(settings: TrainerSettings) -> Run:
    """Train the network for ``settings.epochs`` epochs, as the page does."""
    rng = Mulberry32(settings.seed)
    dropout_rng = Mulberry32(settings.seed + DROPOUT_STREAM)
    data = make_dataset(rng, settings)
    net = init_network(rng, settings.width)
    velocity_w: list[Array] | None = None
    velocity_b: list[Array] = []
    n = settings.train_size
    records: dict[str, list[float]] = {k: [] for k in ("lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy")}
    for epoch in range(1, settings.epochs + 1):
        lr = settings.lr_at(epoch)
        order = list(range(n))
        for i in range(n - 1, 0, -1):  # Fisher–Yates
            j = rng.below(i + 1)
            order[i], order[j] = order[j], order[i]
        loss_sum = 0.0
        right = 0
        for start in range(0, n, settings.batch_size):
            batch = order[start:start + settings.batch_size]
            x, labels = data.x_train[batch], data.y_train[batch]
            masks = dropout_masks(dropout_rng, len(batch), settings.width, settings.dropout) if settings.dropout else None
            grad_w, grad_b, logits, losses = gradients(net, x, labels, settings.label_smoothing, masks)
            for loss in losses.tolist():  # one at a time, in order, as the page sums them
                loss_sum += loss
            right += int((logits.argmax(axis=1) == labels).sum())
            grad_w = [g + settings.weight_decay * w for g, w in zip(grad_w, net.w)]
            grad_b = [g + settings.weight_decay * b for g, b in zip(grad_b, net.b)]
            if velocity_w is None:
                velocity_w, velocity_b = [g.copy() for g in grad_w], [g.copy() for g in grad_b]
            else:
                velocity_w = [settings.momentum * v + g for v, g in zip(velocity_w, grad_w)]
                velocity_b = [settings.momentum * v + g for v, g in zip(velocity_b, grad_b)]
            net.w = [w - lr * v for w, v in zip(net.w, velocity_w)]
            net.b = [b - lr * v for b, v in zip(net.b, velocity_b)]
        val_loss, val_right = evaluate(net, data.x_val, data.y_val)
        records["lr"].append(lr)
        records["train_loss"].append(loss_sum / n)
        records["train_accuracy"].append(right / n)
        records["val_loss"].append(float(val_loss.mean()))
        records["val_accuracy"].append(float(val_right.mean()))
    history = History(**{k: np.array(v) for k, v in records.items()})
    return Run(settings, data, net, history)


@dataclass(frozen=True)
class Divergence:
    """How the validation metrics part ways: the epoch of least validation loss, how much the
    loss rose after it (relative), and validation accuracy there and at the end."""

    best_epoch: int
    best_loss: float
    final_loss: float
    rise: float
    accuracy_at_best: float
    final_accuracy: float


def divergence(history: History) -> Divergence:
    """Epoch of minimal validation loss (1-based) and the relative rise final / min - 1."""
    best = int(np.argmin(history.val_loss))
    return Divergence(
        best_epoch=best + 1,
        best_loss=float(history.val_loss[best]),
        final_loss=float(history.val_loss[-1]),
        rise=float(history.val_loss[-1] / history.val_loss[best] - 1.0),
        accuracy_at_best=float(history.val_accuracy[best]),
        final_accuracy=float(history.val_accuracy[-1]),
    )


def with_settings(settings: TrainerSettings, **changes: object) -> TrainerSettings:
    """A copy of ``settings`` with some fields changed."""
    return replace(settings, **changes)  # type: ignore[arg-type]

