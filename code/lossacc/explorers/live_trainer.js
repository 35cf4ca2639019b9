// live_trainer.js: a small network trained in the page. Three spiral arms with noisy labels,
// an MLP (2 inputs, two ReLU layers, 3 logits), mini-batch SGD with momentum, weight decay and
// a learning-rate schedule the reader can steer. Mirrors lossacc.live_training step for step
// (same random numbers, same order of operations, float64), which the browser test checks.

const CLASSES = 3;
const DROP_FACTOR = 0.2;
const MAP_EVERY_MS = 250; // the decision regions are redrawn at most this often while training
const EVAL_ROWS = 200; // validation points per unit of work
const MAP_ROWS = 8; // rows of the decision-region grid per frame

/** Mulberry32 (as lossacc.live_training.Mulberry32): uniforms, Box–Muller normals, integers. */
function mulberry32(seed) {
  let state = seed >>> 0;
  const uint32 = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  const uniform = () => uint32() / 4294967296;
  return {
    uint32,
    uniform,
    normal: () => {
      const u1 = uniform(), u2 = uniform();
      return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    },
    below: (n) => Math.floor(uniform() * n),
  };
}

/** Learning rate of epoch `epoch` (1-based): lr * 0.2^(drops at or before it). */
function lrAt(settings, drops, epoch) {
  return settings.lr * DROP_FACTOR ** drops.filter((d) => d <= epoch).length;
}

/** Drops of a preset schedule: "steps" at 30%, 60% and 80% of the run, or "none". */
function presetDrops(epochs, preset) {
  return preset === "steps" ? [0.3, 0.6, 0.8].map((share) => Math.floor(epochs * share) + 1) : [];
}

/** Points on three spiral arms (point i on arm i mod 3), as lossacc.live_training._spiral_points. */
function spiralPoints(rng, count, s) {
  const x = new Float64Array(2 * count), labels = new Int32Array(count);
  for (let i = 0; i < count; i += 1) {
    const c = i % CLASSES;
    const t = rng.uniform();
    const radius = s.radius * (0.1 + 0.9 * t);
    const angle = 2 * Math.PI * (c / CLASSES + s.turns * t);
    x[2 * i] = radius * Math.cos(angle) + s.jitter * rng.normal();
    x[2 * i + 1] = radius * Math.sin(angle) + s.jitter * rng.normal();
    const flip = rng.uniform();
    const other = rng.below(CLASSES - 1);
    labels[i] = flip < s.label_noise ? (c + 1 + other) % CLASSES : c;
  }
  return { x, labels, count };
}

/** He-uniform weights (row by row, [fan_in][fan_out]) and U(-1/sqrt(fan_in), ..) biases. */
function initNetwork(rng, width) {
  const sizes = [2, width, width, CLASSES];
  const layers = [];
  for (let k = 0; k < 3; k += 1) {
    const fanIn = sizes[k], fanOut = sizes[k + 1];
    const bound = Math.sqrt(6 / fanIn), biasBound = 1 / Math.sqrt(fanIn);
    const w = new Float64Array(fanIn * fanOut), b = new Float64Array(fanOut);
    for (let i = 0; i < w.length; i += 1) w[i] = (2 * rng.uniform() - 1) * bound;
    for (let j = 0; j < fanOut; j += 1) b[j] = (2 * rng.uniform() - 1) * biasBound;
    layers.push({ fanIn, fanOut, w, b });
  }
  return layers;
}

/** out[n][j] = sum_i a[n][i] w[i][j] + b[j] (summed in order of i), then ReLU if `relu`. */
function dense(a, rows, layer, relu) {
  const { fanIn, fanOut, w, b } = layer;
  const out = new Float64Array(rows * fanOut);
  for (let n = 0; n < rows; n += 1) {
    const o = n * fanOut;
    for (let i = 0; i < fanIn; i += 1) {
      const ai = a[n * fanIn + i];
      if (ai === 0) continue; // adds nothing: skipped (ReLU zeros half the units)
      const row = i * fanOut;
      for (let j = 0; j < fanOut; j += 1) out[o + j] += ai * w[row + j];
    }
    for (let j = 0; j < fanOut; j += 1) {
      const sum = out[o + j] + b[j];
      out[o + j] = relu && sum < 0 ? 0 : sum;
    }
  }
  return out;
}

/** Cross-entropy of logits z[at..at+2] for class y, in the steps of the kit's lossFromLogits. */
function logitsLoss(z, at, y) {
  const top = Math.max(z[at], z[at + 1], z[at + 2]);
  const sum = 0 + Math.exp(z[at] - top) + Math.exp(z[at + 1] - top) + Math.exp(z[at + 2] - top);
  return -(z[at + y] - top - Math.log(sum));
}

/** Predicted class of logits z[at..at+2]; ties go to the lower index, as the kit's argmax. */
function logitsArgmax(z, at) {
  let best = 0;
  for (let j = 1; j < CLASSES; j += 1) if (z[at + j] > z[at + best]) best = j;
  return best;
}

/** Hidden activations and logits of `rows` points. */
function forwardPass(net, x, rows) {
  const h1 = dense(x, rows, net[0], true);
  const h2 = dense(h1, rows, net[1], true);
  return { h1, h2, logits: dense(h2, rows, net[2], false) };
}

/** Add the losses and right answers of points start..end-1 of `set` to `tally`, in order. */
function evaluateRows(net, set, start, end, tally) {
  const { logits } = forwardPass(net, set.x.subarray(2 * start, 2 * end), end - start);
  for (let n = start; n < end; n += 1) {
    const at = CLASSES * (n - start);
    tally.lossSum += logitsLoss(logits, at, set.labels[n]);
    if (logitsArgmax(logits, at) === set.labels[n]) tally.right += 1;
  }
  tally.logits.set(logits, CLASSES * start);
}

/** A training run, as lossacc.live_training.train, that advances in small units of work (one
 *  mini-batch, or EVAL_ROWS validation points at the end of an epoch), so that the page can
 *  stop between any two of them. */
class LiveRun {
  constructor(settings, drops) {
    this.settings = settings;
    this.drops = [...drops];
    this.rng = mulberry32(settings.seed);
    this.train = spiralPoints(this.rng, settings.train_size, settings);
    this.val = spiralPoints(this.rng, settings.val_size, settings);
    this.net = initNetwork(this.rng, settings.width);
    this.velocity = null;
    this.epoch = 0; // epochs completed
    this.batchStart = 0;
    this.tally = null; // the validation pass under way at the end of an epoch
    this.valLogits = null;
    this.history = { lr: [], train_loss: [], train_accuracy: [], val_loss: [], val_accuracy: [] };
  }

  get done() { return this.epoch >= this.settings.epochs; }

  /** The next epoch to start (1-based). */
  get nextEpoch() { return this.batchStart > 0 || this.tally ? this.epoch + 2 : this.epoch + 1; }

  /** Learning rate of the next epoch to start. */
  get nextLr() { return lrAt(this.settings, this.drops, this.nextEpoch); }

  /** Drop the learning rate ×0.2 from the next epoch to start on. */
  dropNow() {
    this.drops.push(this.nextEpoch);
    this.drops.sort((a, b) => a - b);
  }

  /** One unit of work: a mini-batch step (an epoch starts with a shuffle), or a slice of the
   *  validation pass that ends the epoch. */
  step() {
    const s = this.settings, n = s.train_size;
    if (this.tally) {
      const start = this.tally.next, end = Math.min(start + EVAL_ROWS, this.val.count);
      evaluateRows(this.net, this.val, start, end, this.tally);
      this.tally.next = end;
      if (end === this.val.count) {
        this.valLogits = this.tally.logits;
        this.history.lr.push(this.lr);
        this.history.train_loss.push(this.lossSum / n);
        this.history.train_accuracy.push(this.right / n);
        this.history.val_loss.push(this.tally.lossSum / this.val.count);
        this.history.val_accuracy.push(this.tally.right / this.val.count);
        this.epoch += 1;
        this.tally = null;
      }
      return;
    }
    if (this.batchStart === 0) {
      this.order = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i -= 1) {
        const j = this.rng.below(i + 1);
        [this.order[i], this.order[j]] = [this.order[j], this.order[i]];
      }
      this.lr = lrAt(s, this.drops, this.epoch + 1);
      this.lossSum = 0;
      this.right = 0;
    }
    this.sgdStep(this.order.slice(this.batchStart, this.batchStart + s.batch_size));
    this.batchStart += s.batch_size;
    if (this.batchStart >= n) {
      this.batchStart = 0;
      this.tally = { next: 0, lossSum: 0, right: 0, logits: new Float64Array(CLASSES * this.val.count) };
    }
  }

  /** Gradient of the batch's mean cross-entropy, then SGD with momentum and weight decay:
   *  g = grad + wd w, v = mu v + g (v = g at the first step), w = w - lr v. */
  sgdStep(batch) {
    const s = this.settings, net = this.net, rows = batch.length;
    const x = new Float64Array(2 * rows), labels = new Int32Array(rows);
    for (let n = 0; n < rows; n += 1) {
      const i = batch[n];
      x[2 * n] = this.train.x[2 * i];
      x[2 * n + 1] = this.train.x[2 * i + 1];
      labels[n] = this.train.labels[i];
    }
    const { h1, h2, logits } = forwardPass(net, x, rows);
    const dLogits = new Float64Array(rows * CLASSES);
    for (let n = 0; n < rows; n += 1) {
      const at = CLASSES * n, y = labels[n];
      const top = Math.max(logits[at], logits[at + 1], logits[at + 2]);
      const e0 = Math.exp(logits[at] - top), e1 = Math.exp(logits[at + 1] - top), e2 = Math.exp(logits[at + 2] - top);
      const total = e0 + e1 + e2;
      dLogits[at] = (e0 / total - (y === 0 ? 1 : 0)) / rows;
      dLogits[at + 1] = (e1 / total - (y === 1 ? 1 : 0)) / rows;
      dLogits[at + 2] = (e2 / total - (y === 2 ? 1 : 0)) / rows;
      this.lossSum += logitsLoss(logits, at, y);
      if (logitsArgmax(logits, at) === y) this.right += 1;
    }
    const inputs = [x, h1, h2];
    const grads = [];
    let delta = dLogits;
    for (let k = 2; k >= 0; k -= 1) {
      const { fanIn, fanOut, w } = net[k], a = inputs[k];
      const gw = new Float64Array(fanIn * fanOut), gb = new Float64Array(fanOut);
      for (let n = 0; n < rows; n += 1) { // each sum over n runs in order of n
        const d = n * fanOut;
        for (let j = 0; j < fanOut; j += 1) gb[j] += delta[d + j];
        for (let i = 0; i < fanIn; i += 1) {
          const ai = a[n * fanIn + i];
          if (ai === 0) continue;
          const row = i * fanOut;
          for (let j = 0; j < fanOut; j += 1) gw[row + j] += ai * delta[d + j];
        }
      }
      grads[k] = { w: gw, b: gb };
      if (k > 0) {
        const back = new Float64Array(rows * fanIn);
        for (let n = 0; n < rows; n += 1) {
          for (let i = 0; i < fanIn; i += 1) {
            if (a[n * fanIn + i] <= 0) continue; // ReLU: no gradient where the unit is off
            let sum = 0;
            const d = n * fanOut, row = i * fanOut;
            for (let j = 0; j < fanOut; j += 1) sum += delta[d + j] * w[row + j];
            back[n * fanIn + i] = sum;
          }
        }
        delta = back;
      }
    }
    const first = this.velocity === null;
    if (first) this.velocity = grads.map((g) => ({ w: new Float64Array(g.w.length), b: new Float64Array(g.b.length) }));
    for (let k = 0; k < 3; k += 1) {
      for (const key of ["w", "b"]) {
        const param = net[k][key], grad = grads[k][key], v = this.velocity[k][key];
        for (let i = 0; i < param.length; i += 1) {
          const g = grad[i] + s.weight_decay * param[i];
          v[i] = first ? g : s.momentum * v[i] + g;
          param[i] = param[i] - this.lr * v[i];
        }
      }
    }
  }
}

// ---- drawing -------------------------------------------------------------------------------

const CLASS_COLORS = [[31, 119, 180], [255, 127, 14], [44, 160, 44]]; // tab:blue, tab:orange, tab:green

/** A drawing of the decision regions for the network as it is now, computed MAP_ROWS grid rows
 *  per call of `advance()` (it keeps a copy of the weights, so training may go on meanwhile).
 *  The regions take the colour of the predicted class (stronger where surer); training points
 *  the colour of their (possibly noisy) label; validation points are dots whose darkness is
 *  1 - p(label), so that the confident mistakes stand out. */
function mapJob(canvas, run, extent, grid = 48) {
  const net = run.net.map((layer) => ({ ...layer, w: layer.w.slice(), b: layer.b.slice() }));
  const valLogits = run.valLogits, image = new ImageData(grid, grid);
  let row = 0;
  const paint = (bitmap) => {
    const size = canvas.clientWidth || 300, ratio = window.devicePixelRatio || 1, px = Math.round(size * ratio);
    if (canvas.width !== px) { canvas.width = px; canvas.height = px; }
    const ctx = canvas.getContext("2d");
    const toPx = (v) => ((v + extent) / (2 * extent)) * px;
    const toPy = (v) => ((extent - v) / (2 * extent)) * px;
    ctx.clearRect(0, 0, px, px);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(bitmap, 0, 0, px, px);
    const ink = getComputedStyle(canvas).color;
    ctx.fillStyle = ink;
    if (valLogits) {
      for (let n = 0; n < run.val.count; n += 1) {
        ctx.globalAlpha = 1 - Math.exp(-logitsLoss(valLogits, CLASSES * n, run.val.labels[n]));
        ctx.fillRect(toPx(run.val.x[2 * n]) - 2 * ratio, toPy(run.val.x[2 * n + 1]) - 2 * ratio, 4 * ratio, 4 * ratio);
      }
    }
    ctx.globalAlpha = 1;
    ctx.lineWidth = ratio;
    ctx.strokeStyle = ink;
    for (let n = 0; n < run.train.count; n += 1) {
      const [red, green, blue] = CLASS_COLORS[run.train.labels[n]];
      ctx.fillStyle = `rgb(${red},${green},${blue})`;
      ctx.beginPath();
      ctx.arc(toPx(run.train.x[2 * n]), toPy(run.train.x[2 * n + 1]), 3.2 * ratio, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
  };
  return {
    /** Compute the next rows; once all are done, paint (asynchronously) and return true. */
    advance() {
      const last = Math.min(row + MAP_ROWS, grid), count = (last - row) * grid;
      const points = new Float64Array(2 * count);
      for (let r = row; r < last; r += 1) {
        for (let c = 0; c < grid; c += 1) {
          const p = (r - row) * grid + c;
          points[2 * p] = -extent + ((c + 0.5) * 2 * extent) / grid;
          points[2 * p + 1] = extent - ((r + 0.5) * 2 * extent) / grid;
        }
      }
      const { logits } = forwardPass(net, points, count);
      for (let p = 0; p < count; p += 1) {
        const k = logitsArgmax(logits, CLASSES * p);
        const sure = Math.exp(-logitsLoss(logits, CLASSES * p, k)); // probability of the predicted class
        const [red, green, blue] = CLASS_COLORS[k];
        image.data.set([red, green, blue, Math.round(255 * (0.1 + 0.6 * (sure - 1 / 3)))], 4 * (row * grid + p));
      }
      row = last;
      if (row < grid) return false;
      createImageBitmap(image).then(paint);
      return true;
    },
  };
}

/** Curves over the epochs: `series` = [{values, cls}] on y in [0, top]; dashed lines at drops. */
function drawCurves(svg, { series, epochs, top, yTitle, drops, height = 170, yTicks }) {
  const width = chartWidth(svg), left = 44, right = 10, topPad = 28, bottom = 34;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const toX = (e) => left + ((width - left - right) * e) / epochs;
  const toY = (v) => topPad + (height - topPad - bottom) * (1 - Math.min(v, top) / top);
  drawAxis(svg, { x: left, ticks: yTicks || niceTicks(top, 3).filter((t) => t <= top + 1e-12), toY, side: "left", format: (v) => String(+v.toPrecision(3)), title: yTitle, titleX: 2 });
  for (const drop of drops) {
    svg.append(svgEl("line", { x1: toX(drop - 1), x2: toX(drop - 1), y1: topPad, y2: height - bottom, class: "lx-threshold" }));
  }
  for (const t of niceTicks(epochs, 5).filter((t) => t <= epochs)) {
    const anchor = toX(t) > width - right - 12 ? "end" : "middle";  // the last tick stays inside the chart
    const text = svgEl("text", { x: toX(t), y: height - bottom + 14, "text-anchor": anchor });
    text.textContent = String(t);
    svg.append(text);
  }
  const title = svgEl("text", { x: (left + width - right) / 2, y: height - 4, "text-anchor": "middle", class: "lx-axis-title" });
  title.textContent = "epoch";
  svg.append(title);
  for (const { values, cls, marked } of series) {
    if (!values.length) continue;
    const d = values.map((v, e) => `${e ? "L" : "M"}${toX(e + 1).toFixed(1)},${toY(v).toFixed(1)}`).join("");
    svg.append(svgEl("path", { d, class: cls }));
    if (marked !== undefined) svg.append(svgEl("circle", { cx: toX(marked + 1), cy: toY(values[marked]), r: 5, class: `${cls} lx-live-mark` }));
  }
}

function render({ model, el: host }) {
  const data = model.get("data");
  const root = el("div", { class: "lx-explorer lx-live", role: "group", "aria-label": "Live trainer" });
  const status = el("p", { class: "lx-live-status", "aria-live": "polite" });

  const button = (text, name) => el("button", { type: "button", class: "lx-button", "data-action": name, text });
  const playButton = button("Play", "play");
  playButton.setAttribute("aria-pressed", "false");
  const stepButton = button("Step one epoch", "step");
  const resetButton = button("Reset", "reset");
  const dropButton = button("Drop the learning rate ×0.2 now", "drop");

  const scheduleId = uniqueId("schedule");
  const scheduleSelect = el("select", { id: scheduleId, "data-name": "schedule" }, data.presets.map((p) => el("option", { value: p.value, text: p.label })));
  scheduleSelect.value = data.preset;
  const scheduleRow = el("div", { class: "lx-live-select" }, [el("label", { for: scheduleId, text: "schedule" }), scheduleSelect]);
  const pick = (values, format) => (v) => format(values[Number(v)]);
  const controls = {
    weight_decay: slider({ label: "weight decay", min: 0, max: data.weight_decays.length - 1, step: 1, value: data.weight_decays.indexOf(data.settings.weight_decay), name: "weight_decay", format: pick(data.weight_decays, (v) => (v ? v.toExponential(0) : "0")) }),
    label_noise: slider({ label: "label noise", min: 0, max: data.max_noise, step: 0.05, value: data.settings.label_noise, name: "label_noise", format: (v) => `${Math.round(100 * v)}%` }),
    width: slider({ label: "hidden width", min: 0, max: data.widths.length - 1, step: 1, value: data.widths.indexOf(data.settings.width), name: "width", format: pick(data.widths, String) }),
    seed: slider({ label: "seed", min: 1, max: data.max_seed, step: 1, value: data.settings.seed, name: "seed", format: (v) => String(v) }),
  };
  const readouts = {
    epoch: readout("epoch", "epoch"),
    lr: readout("learning-rate", "learning rate (next epoch)"),
    trainLoss: readout("train-loss", "training loss"),
    trainAcc: readout("train-accuracy", "training accuracy"),
    valLoss: readout("val-loss", "validation loss"),
    valAcc: readout("val-accuracy", "validation accuracy"),
    bestEpoch: readout("best-epoch", "lowest validation loss at epoch"),
  };
  const canvas = el("canvas", { class: "lx-live-map", role: "img", "aria-label": "Decision regions with training points and validation points" });
  const mapLegend = el("p", { class: "lx-legend" });
  mapLegend.innerHTML = "Background: the predicted class (stronger where surer). Circles: training points, coloured by their label (noisy labels included). Dots: validation points, the more visible the less probability the network gives their label.";
  const lossSvg = svgEl("svg", { role: "img", "aria-label": "Training and validation loss per epoch" });
  const accSvg = svgEl("svg", { role: "img", "aria-label": "Training and validation accuracy per epoch" });
  const lrSvg = svgEl("svg", { role: "img", "aria-label": "Learning rate per epoch" });
  const curvesLegend = el("p", { class: "lx-legend" });
  curvesLegend.innerHTML = '<span class="lx-live-val-key">── validation</span> &nbsp; <span class="lx-live-train-key">··· training (as the optimiser saw it)</span>; dashed lines: learning-rate drops; dot: lowest validation loss';

  root.append(
    el("div", { class: "lx-live-buttons" }, [playButton, stepButton, resetButton, dropButton]),
    status,
    el("div", { class: "lx-grid" }, [
      el("div", { class: "lx-panel" }, [el("div", { class: "lx-readouts" }, Object.values(readouts).map((r) => r.root)), lossSvg, accSvg, lrSvg, curvesLegend]),
      el("div", { class: "lx-panel" }, [canvas, mapLegend, scheduleRow, ...Object.values(controls).map((c) => c.root), el("p", { class: "lx-legend", text: "Changing the schedule or a slider starts a new run." })]),
    ]),
  );
  host.append(root);

  let run = null, playing = false, frame = null, lastMap = -Infinity, map = null;

  function currentSettings() {
    return {
      ...data.settings,
      weight_decay: data.weight_decays[Number(controls.weight_decay.input.value)],
      label_noise: Number(controls.label_noise.input.value),
      width: data.widths[Number(controls.width.input.value)],
      seed: Number(controls.seed.input.value),
    };
  }

  function publish() {
    root.dataset.trajectory = JSON.stringify({ settings: run.settings, drops: run.drops, history: run.history });
    root.dataset.state = run.done ? "done" : playing ? "playing" : "paused";
  }

  function draw(force = false) {
    const h = run.history, epochs = run.settings.epochs, last = h.val_loss.length - 1;
    readouts.epoch.set(run.epoch, 0);
    const lr = run.done ? h.lr[last] : run.nextLr;
    readouts.lr.set(lr, 4);
    readouts.lr.root.querySelector(".lx-readout-value").textContent = String(+lr.toPrecision(3));
    if (last >= 0) {
      const best = h.val_loss.indexOf(Math.min(...h.val_loss));
      readouts.trainLoss.set(h.train_loss[last]);
      readouts.trainAcc.set(h.train_accuracy[last]);
      readouts.valLoss.set(h.val_loss[last]);
      readouts.valAcc.set(h.val_accuracy[last]);
      readouts.bestEpoch.set(best + 1, 0);
      const lossTop = niceTicks(Math.max(1, ...h.val_loss.slice(0, 3)), 3).slice(-1)[0];
      drawCurves(lossSvg, { series: [{ values: h.train_loss, cls: "lx-live-train lx-loss-line" }, { values: h.val_loss, cls: "lx-live-val lx-loss-line", marked: best }], epochs, top: lossTop, yTitle: "loss", drops: run.drops });
    } else {
      for (const r of [readouts.trainLoss, readouts.trainAcc, readouts.valLoss, readouts.valAcc, readouts.bestEpoch]) r.root.querySelector(".lx-readout-value").textContent = "–";
      drawCurves(lossSvg, { series: [], epochs, top: 1.2, yTitle: "loss", drops: run.drops });
    }
    drawCurves(accSvg, { series: [{ values: h.train_accuracy, cls: "lx-live-train lx-acc-line" }, { values: h.val_accuracy, cls: "lx-live-val lx-acc-line" }], epochs, top: 1, yTitle: "accuracy", drops: run.drops, yTicks: [0, 0.5, 1] });
    const plannedLr = Array.from({ length: epochs }, (_, e) => lrAt(run.settings, run.drops, e + 1));
    drawCurves(lrSvg, { series: [{ values: plannedLr, cls: "lx-live-lr" }], epochs, top: run.settings.lr, yTitle: "learning rate", drops: [], height: 110, yTicks: [0, run.settings.lr] });
    if (force) redrawMap();
    status.textContent = run.done ? `Done: ${epochs} epochs.` : `${playing ? "Training" : "Paused"}: epoch ${run.epoch} of ${epochs}.`;
    playButton.textContent = playing ? "Pause" : "Play";
    playButton.setAttribute("aria-pressed", String(playing));
    playButton.disabled = stepButton.disabled = dropButton.disabled = run.done;
    publish();
  }

  for (const svg of [lossSvg, accSvg, lrSvg]) redrawOnResize(svg, () => draw());

  /** Start a new drawing of the decision regions; the frames finish it. */
  function redrawMap() {
    map = mapJob(canvas, run, data.extent);
    lastMap = performance.now();
    requestFrame();
  }

  function requestFrame() {
    if (frame === null && (playing || map)) frame = requestAnimationFrame(tick);
  }

  // Each frame does at most `data.slice_ms` of work: a few rows of the decision regions if a
  // drawing is under way, then training in small units, so that the page stays responsive.
  // Readouts and curves follow every frame.
  function tick() {
    frame = null;
    const start = performance.now();
    if (map && map.advance()) map = null;
    if (playing) {
      while (!run.done && performance.now() - start < data.slice_ms) run.step();
      if (run.done) playing = false;
      if (!map && (run.done || start - lastMap > MAP_EVERY_MS)) redrawMap();
      draw();
    }
    requestFrame();
  }

  function setPlaying(on) {
    playing = on && !run.done;
    requestFrame();
    draw();
  }

  function reset() {
    if (frame !== null) cancelAnimationFrame(frame);
    frame = null;
    playing = false;
    run = new LiveRun(currentSettings(), presetDrops(data.settings.epochs, scheduleSelect.value));
    draw(true);
  }

  playButton.addEventListener("click", () => setPlaying(!playing));
  stepButton.addEventListener("click", () => {
    setPlaying(false);
    const target = run.epoch + 1;
    while (!run.done && run.epoch < target) run.step();
    draw(true);
  });
  resetButton.addEventListener("click", reset);
  dropButton.addEventListener("click", () => { run.dropNow(); draw(); });
  scheduleSelect.addEventListener("change", reset);
  for (const control of Object.values(controls)) control.input.addEventListener("change", reset);
  // Follow the site's (and JupyterLab's) light/dark switch: redraw the map, whose ink is the text colour.
  const themeWatch = new MutationObserver(() => redrawMap());
  themeWatch.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  themeWatch.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light"] });
  reset();
  return () => { themeWatch.disconnect(); if (frame !== null) cancelAnimationFrame(frame); };
}

export default { render };
