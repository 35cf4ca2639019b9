// live_trainer.js: a small network trained in the page. Three spiral arms with noisy labels,
// an MLP (2 inputs, two ReLU layers, 3 logits), mini-batch SGD with momentum, weight decay,
// dropout, label smoothing and a learning-rate schedule the reader can steer. Mirrors
// lossacc.live_training step for step (same random numbers, same order of operations, float64),
// which the browser test checks.
//
// The training runs in a Web Worker, so that the page's own thread only draws: the worker's
// code is this file's training functions, turned back into source text (see trainerSource)
// and started from a Blob, which needs no file or host besides the widget's module.

const CLASSES = 3;
const DROP_FACTOR = 0.2;
const DROPOUT_STREAM = 0x9e3779b9; // the dropout masks' generator is mulberry32(seed + DROPOUT_STREAM)
const EVAL_ROWS = 200; // validation points per unit of work
const WORK_MS = 40; // the worker trains this long between two snapshots (and looks at its messages)
const MAP_EVERY_MS = 250; // the decision regions are recomputed at most this often while training
const MAP_GRID = 48; // the decision regions are drawn on a MAP_GRID x MAP_GRID grid
const CLASS_COLORS = [[31, 119, 180], [255, 127, 14], [44, 160, 44]]; // tab:blue, tab:orange, tab:green

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

/** Training loss against the smoothed targets q = (1 - eps) one_hot(y) + eps / 3:
 *  (1 - eps) CE(y) + eps (CE(0) + CE(1) + CE(2)) / 3, as lossacc.live_training.smoothed_loss. */
function smoothedLoss(z, at, y, smoothing) {
  const everyClass = logitsLoss(z, at, 0) + logitsLoss(z, at, 1) + logitsLoss(z, at, 2);
  return (1 - smoothing) * logitsLoss(z, at, y) + (smoothing * everyClass) / CLASSES;
}

/** A dropout mask of `size` units: 0 where the next uniform is below `rate`, else 1 / (1 - rate). */
function dropoutMask(rng, size, rate) {
  const scale = 1 / (1 - rate), mask = new Float64Array(size);
  for (let i = 0; i < size; i += 1) mask[i] = rng.uniform() < rate ? 0 : scale;
  return mask;
}

/** Hidden activations (times their dropout masks, if any) and logits of `rows` points. */
function forwardPass(net, x, rows, masks = null) {
  const h1 = dense(x, rows, net[0], true);
  if (masks) for (let i = 0; i < h1.length; i += 1) h1[i] *= masks[0][i];
  const h2 = dense(h1, rows, net[1], true);
  if (masks) for (let i = 0; i < h2.length; i += 1) h2[i] *= masks[1][i];
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
    this.dropoutRng = mulberry32(settings.seed + DROPOUT_STREAM);
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

  /** Gradient of the batch's mean training loss (dropout masks drawn afresh, smoothed targets),
   *  then SGD with momentum and weight decay: g = grad + wd w, v = mu v + g (v = g at the first
   *  step), w = w - lr v. */
  sgdStep(batch) {
    const s = this.settings, net = this.net, rows = batch.length;
    const x = new Float64Array(2 * rows), labels = new Int32Array(rows);
    for (let n = 0; n < rows; n += 1) {
      const i = batch[n];
      x[2 * n] = this.train.x[2 * i];
      x[2 * n + 1] = this.train.x[2 * i + 1];
      labels[n] = this.train.labels[i];
    }
    const masks = s.dropout ? [0, 1].map(() => dropoutMask(this.dropoutRng, rows * s.width, s.dropout)) : null;
    const { h1, h2, logits } = forwardPass(net, x, rows, masks);
    const dLogits = new Float64Array(rows * CLASSES);
    const target = (j, y) => (j === y ? 1 - s.label_smoothing : 0) + s.label_smoothing / CLASSES;
    for (let n = 0; n < rows; n += 1) {
      const at = CLASSES * n, y = labels[n];
      const top = Math.max(logits[at], logits[at + 1], logits[at + 2]);
      const e0 = Math.exp(logits[at] - top), e1 = Math.exp(logits[at + 1] - top), e2 = Math.exp(logits[at + 2] - top);
      const total = e0 + e1 + e2;
      dLogits[at] = (e0 / total - target(0, y)) / rows;
      dLogits[at + 1] = (e1 / total - target(1, y)) / rows;
      dLogits[at + 2] = (e2 / total - target(2, y)) / rows;
      this.lossSum += smoothedLoss(logits, at, y, s.label_smoothing);
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
        const back = new Float64Array(rows * fanIn), mask = masks && masks[k - 1];
        for (let n = 0; n < rows; n += 1) {
          for (let i = 0; i < fanIn; i += 1) {
            if (a[n * fanIn + i] <= 0) continue; // ReLU (or dropout): no gradient where the unit is off
            let sum = 0;
            const d = n * fanOut, row = i * fanOut;
            for (let j = 0; j < fanOut; j += 1) sum += delta[d + j] * w[row + j];
            back[n * fanIn + i] = mask ? sum * mask[n * fanIn + i] : sum;
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


/** The decision regions of `net` as RGBA pixels of a MAP_GRID x MAP_GRID image of the square
 *  [-extent, extent]^2: the colour of the predicted class, more opaque where the network is surer. */
function mapPixels(net, extent) {
  const count = MAP_GRID * MAP_GRID, points = new Float64Array(2 * count);
  for (let r = 0; r < MAP_GRID; r += 1) {
    for (let c = 0; c < MAP_GRID; c += 1) {
      const p = r * MAP_GRID + c;
      points[2 * p] = -extent + ((c + 0.5) * 2 * extent) / MAP_GRID;
      points[2 * p + 1] = extent - ((r + 0.5) * 2 * extent) / MAP_GRID;
    }
  }
  const { logits } = forwardPass(net, points, count);
  const pixels = new Uint8ClampedArray(4 * count);
  for (let p = 0; p < count; p += 1) {
    const k = logitsArgmax(logits, CLASSES * p);
    const sure = Math.exp(-logitsLoss(logits, CLASSES * p, k)); // probability of the predicted class
    const [red, green, blue] = CLASS_COLORS[k];
    pixels.set([red, green, blue, Math.round(255 * (0.1 + 0.6 * (sure - 1 / 3)))], 4 * p);
  }
  return pixels;
}

// ---- the worker ------------------------------------------------------------------------------

/** The worker's main: it keeps one LiveRun and obeys the page's commands, each numbered:
 *  {start: settings, drops, extent}, {play}, {pause}, {step} (to the end of the next epoch) and
 *  {drop}. It trains for WORK_MS at a time while playing or stepping, and after every command
 *  and every stretch of training it posts a snapshot: the run's numbers so far, the number of
 *  the last command it has carried out, and whether it is still working. The data points come
 *  with the first snapshot of a run, the validation logits when an epoch has ended, the
 *  decision regions every MAP_EVERY_MS while training and whenever it stops. */
function trainerWorker() {
  let run = null, extent = 0, command = 0, playing = false, stepTo = null;
  let pointsSent = false, epochSent = 0, mapStale = true, lastMap = -Infinity, timer = null;

  function post() {
    const working = playing || stepTo !== null, now = performance.now();
    const snapshot = {
      command, working, done: run.done, epoch: run.epoch, nextLr: run.nextLr, drops: run.drops, history: run.history,
    };
    if (!pointsSent) {
      snapshot.points = { train: run.train, val: run.val };
      pointsSent = true;
    }
    if (run.epoch !== epochSent && run.valLogits) {
      snapshot.valLogits = run.valLogits;
      epochSent = run.epoch;
    }
    if (mapStale && (!working || now - lastMap >= MAP_EVERY_MS)) {
      snapshot.map = mapPixels(run.net, extent);
      mapStale = false;
      lastMap = now;
    }
    self.postMessage(snapshot);
  }

  function work() {
    timer = null;
    const start = performance.now();
    while ((playing || stepTo !== null) && performance.now() - start < WORK_MS) {
      run.step();
      mapStale = true;
      if (run.done) playing = false;
      if (stepTo !== null && (run.epoch >= stepTo || run.done)) stepTo = null;
    }
    post();
    if ((playing || stepTo !== null) && timer === null) timer = setTimeout(work, 0);
  }

  self.onmessage = ({ data: message }) => {
    command = message.command;
    if (message.start) {
      run = new LiveRun(message.start.settings, message.start.drops);
      extent = message.start.extent;
      playing = false;
      stepTo = null;
      pointsSent = false;
      epochSent = 0;
      mapStale = true;
    } else if (message.play) {
      playing = !run.done;
    } else if (message.pause) {
      playing = false;
    } else if (message.step) {
      playing = false;
      stepTo = run.done ? null : run.epoch + 1;
    } else if (message.drop) {
      run.dropNow();
    }
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(work, 0);
  };
}

/** The worker's source: the constants and functions above that it uses, then its main. */
function trainerSource() {
  const constants = { CLASSES, DROP_FACTOR, DROPOUT_STREAM, EVAL_ROWS, WORK_MS, MAP_EVERY_MS, MAP_GRID, CLASS_COLORS };
  const functions = [
    mulberry32, lrAt, spiralPoints, initNetwork, dense, logitsLoss, logitsArgmax, smoothedLoss, dropoutMask,
    forwardPass, evaluateRows, LiveRun, mapPixels,
  ];
  return [
    ...Object.entries(constants).map(([name, value]) => `const ${name} = ${JSON.stringify(value)};`),
    ...functions.map(String),
    `(${trainerWorker})();`,
  ].join("\n");
}

// ---- drawing -------------------------------------------------------------------------------

/** Paint the decision regions (`pixels`, from mapPixels) scaled up to the canvas, then the
 *  training points in the colour of their (possibly noisy) label and the validation points as
 *  dots whose darkness is 1 - p(label), so that the confident mistakes stand out. */
async function paintMap(canvas, pixels, points, valLogits) {
  const bitmap = await createImageBitmap(new ImageData(pixels, MAP_GRID, MAP_GRID));
  const { train, val, extent } = points;
  const size = canvas.clientWidth || 300, ratio = window.devicePixelRatio || 1, px = Math.round(size * ratio);
  if (canvas.width !== px) { canvas.width = px; canvas.height = px; }
  const ctx = canvas.getContext("2d");
  const toPx = (v) => ((v + extent) / (2 * extent)) * px;
  const toPy = (v) => ((extent - v) / (2 * extent)) * px;
  ctx.clearRect(0, 0, px, px);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(bitmap, 0, 0, px, px);
  bitmap.close();
  const ink = getComputedStyle(canvas).color;
  ctx.fillStyle = ink;
  if (valLogits) {
    for (let n = 0; n < val.count; n += 1) {
      ctx.globalAlpha = 1 - Math.exp(-logitsLoss(valLogits, CLASSES * n, val.labels[n]));
      ctx.fillRect(toPx(val.x[2 * n]) - 2 * ratio, toPy(val.x[2 * n + 1]) - 2 * ratio, 4 * ratio, 4 * ratio);
    }
  }
  ctx.globalAlpha = 1;
  ctx.lineWidth = ratio;
  ctx.strokeStyle = ink;
  const radius = 3.2 * ratio;
  CLASS_COLORS.forEach(([red, green, blue], label) => { // one path of circles per class
    ctx.fillStyle = `rgb(${red},${green},${blue})`;
    ctx.beginPath();
    for (let n = 0; n < train.count; n += 1) {
      if (train.labels[n] !== label) continue;
      const x = toPx(train.x[2 * n]), y = toPy(train.x[2 * n + 1]);
      ctx.moveTo(x + radius, y);
      ctx.arc(x, y, radius, 0, 2 * Math.PI);
    }
    ctx.fill();
    ctx.stroke();
  });
}
/** Curves over the epochs on a chart `width` pixels wide: `series` = [{values, cls}] on y in
 *  [0, top]; dashed lines at drops. The axes and drop lines are drawn again only when one of
 *  these changes; otherwise only the curves are replaced (a chart is redrawn many times a second). */
function drawCurves(svg, { width, series, epochs, top, yTitle, drops, height = 170, yTicks }) {
  const left = 44, right = 10, topPad = 28, bottom = 34;
  const toX = (e) => left + ((width - left - right) * e) / epochs;
  const toY = (v) => topPad + (height - topPad - bottom) * (1 - Math.min(v, top) / top);
  const frameKey = JSON.stringify([width, epochs, top, drops, height]);
  if (svg.dataset.frameKey !== frameKey) {
    svg.dataset.frameKey = frameKey;
    svg.replaceChildren();
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
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
    svg.append(title, svgEl("g", { class: "lx-live-curves" }));
  }
  const curves = [];
  for (const { values, cls, marked } of series) {
    if (!values.length) continue;
    const d = values.map((v, e) => `${e ? "L" : "M"}${toX(e + 1).toFixed(1)},${toY(v).toFixed(1)}`).join("");
    curves.push(svgEl("path", { d, class: cls }));
    if (marked !== undefined) curves.push(svgEl("circle", { cx: toX(marked + 1), cy: toY(values[marked]), r: 5, class: `${cls} lx-live-mark` }));
  }
  svg.querySelector(".lx-live-curves").replaceChildren(...curves);
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
  /** A slider over the shipped `values` of one setting. */
  const choice = (label, name, values, format) => slider({ label, min: 0, max: values.length - 1, step: 1, value: values.indexOf(data.settings[name]), name, format: (i) => format(values[Number(i)]) });
  const controls = {
    weight_decay: choice("weight decay", "weight_decay", data.weight_decays, (v) => (v ? v.toExponential(0) : "0")),
    dropout: choice("dropout", "dropout", data.dropouts, String),
    label_smoothing: choice("label smoothing", "label_smoothing", data.label_smoothings, String),
    label_noise: slider({ label: "label noise", min: 0, max: data.max_noise, step: 0.05, value: data.settings.label_noise, name: "label_noise", format: (v) => `${Math.round(100 * v)}%` }),
    width: choice("hidden width", "width", data.widths, String),
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
  curvesLegend.innerHTML = '<span class="lx-live-val-key">── validation</span> &nbsp; <span class="lx-live-train-key">··· training, as the optimiser saw it (with its dropout and smoothed labels)</span>; dashed lines: learning-rate drops; dot: lowest validation loss';

  root.append(
    el("div", { class: "lx-live-buttons" }, [playButton, stepButton, resetButton, dropButton]),
    status,
    el("div", { class: "lx-grid" }, [
      el("div", { class: "lx-panel" }, [el("div", { class: "lx-readouts" }, Object.values(readouts).map((r) => r.root)), lossSvg, accSvg, lrSvg, curvesLegend]),
      el("div", { class: "lx-panel" }, [canvas, mapLegend, scheduleRow, ...Object.values(controls).map((c) => c.root), el("p", { class: "lx-legend", text: "Changing the schedule or a slider starts a new run." })]),
    ]),
  );
  host.append(root);

  // The page keeps what the worker last reported (`shown`) and draws it at the next frame.
  // Commands are numbered; the page counts as settled once the worker has carried out the last
  // one and stopped working, and only then shows the state "paused" or "done".
  const workerUrl = URL.createObjectURL(new Blob([trainerSource()], { type: "text/javascript" }));
  const worker = new Worker(workerUrl);
  let settings = null, commandsSent = 0, runStart = 0, playing = false, shown = null, frame = null;
  let points = null, valLogits = null, map = null; // what the map is painted from

  // The charts' widths, kept up to date by a ResizeObserver, so that drawing never waits for a layout.
  const chartWidths = new Map();
  const widthOf = (svg) => chartWidths.get(svg) || 420;
  const resizeWatch = new ResizeObserver((entries) => {
    for (const entry of entries) chartWidths.set(entry.target, Math.round(entry.contentRect.width));
    if (shown && frame === null) frame = requestAnimationFrame(draw);
  });
  for (const svg of [lossSvg, accSvg, lrSvg]) resizeWatch.observe(svg);

  function send(message) {
    commandsSent += 1;
    worker.postMessage({ ...message, command: commandsSent });
    publishState();
  }

  function currentSettings() {
    const picked = (name, values) => values[Number(controls[name].input.value)];
    return {
      ...data.settings,
      weight_decay: picked("weight_decay", data.weight_decays),
      dropout: picked("dropout", data.dropouts),
      label_smoothing: picked("label_smoothing", data.label_smoothings),
      label_noise: Number(controls.label_noise.input.value),
      width: picked("width", data.widths),
      seed: Number(controls.seed.input.value),
    };
  }

  function reset() {
    if (frame !== null) cancelAnimationFrame(frame);
    settings = currentSettings();
    playing = false;
    shown = points = valLogits = map = frame = null;
    send({ start: { settings, drops: presetDrops(data.settings.epochs, scheduleSelect.value), extent: data.extent } });
    runStart = commandsSent;
  }

  /** The state in `data-state` and, once settled, the run so far in `data-trajectory` (the tests read both). */
  function publishState() {
    const settled = shown !== null && shown.command === commandsSent && !shown.working;
    root.dataset.state = !settled ? (playing ? "playing" : "working") : shown.done ? "done" : "paused";
    if (settled) root.dataset.trajectory = JSON.stringify({ settings, drops: shown.drops, history: shown.history });
  }

  function draw() {
    frame = null;
    const h = shown.history, epochs = settings.epochs, last = h.val_loss.length - 1;
    if (shown.command === commandsSent && !shown.working) playing = false; // the run ended, or a pause
    readouts.epoch.set(shown.epoch, 0);
    const lr = shown.done ? h.lr[last] : shown.nextLr;
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
      drawCurves(lossSvg, { width: widthOf(lossSvg), series: [{ values: h.train_loss, cls: "lx-live-train lx-loss-line" }, { values: h.val_loss, cls: "lx-live-val lx-loss-line", marked: best }], epochs, top: lossTop, yTitle: "loss", drops: shown.drops });
    } else {
      for (const r of [readouts.trainLoss, readouts.trainAcc, readouts.valLoss, readouts.valAcc, readouts.bestEpoch]) r.root.querySelector(".lx-readout-value").textContent = "–";
      drawCurves(lossSvg, { width: widthOf(lossSvg), series: [], epochs, top: 1.2, yTitle: "loss", drops: shown.drops });
    }
    drawCurves(accSvg, { width: widthOf(accSvg), series: [{ values: h.train_accuracy, cls: "lx-live-train lx-acc-line" }, { values: h.val_accuracy, cls: "lx-live-val lx-acc-line" }], epochs, top: 1, yTitle: "accuracy", drops: shown.drops, yTicks: [0, 0.5, 1] });
    const plannedLr = Array.from({ length: epochs }, (_, e) => lrAt(settings, shown.drops, e + 1));
    drawCurves(lrSvg, { width: widthOf(lrSvg), series: [{ values: plannedLr, cls: "lx-live-lr" }], epochs, top: settings.lr, yTitle: "learning rate", drops: [], height: 110, yTicks: [0, settings.lr] });
    status.textContent = shown.done ? `Done: ${epochs} epochs.` : `${playing ? "Training" : "Paused"}: epoch ${shown.epoch} of ${epochs}.`;
    playButton.textContent = playing ? "Pause" : "Play";
    playButton.setAttribute("aria-pressed", String(playing));
    playButton.disabled = stepButton.disabled = dropButton.disabled = shown.done;
    publishState();
  }

  function redrawMap() {
    if (map) paintMap(canvas, map, points, valLogits);
  }

  worker.onmessage = ({ data: snapshot }) => {
    if (snapshot.command < runStart) return; // from a run since replaced
    shown = snapshot;
    if (snapshot.points) points = { ...snapshot.points, extent: data.extent };
    if (snapshot.valLogits) valLogits = snapshot.valLogits;
    if (snapshot.map) {
      map = snapshot.map;
      redrawMap();
    }
    if (frame === null) frame = requestAnimationFrame(draw);
  };
  worker.onerror = (event) => {
    status.textContent = `The trainer stopped: ${event.message}`;
    throw new Error(`live trainer worker: ${event.message}`);
  };

  playButton.addEventListener("click", () => {
    playing = !playing;
    send(playing ? { play: true } : { pause: true });
    playButton.textContent = playing ? "Pause" : "Play";
    playButton.setAttribute("aria-pressed", String(playing));
  });
  stepButton.addEventListener("click", () => { playing = false; send({ step: true }); });
  resetButton.addEventListener("click", reset);
  dropButton.addEventListener("click", () => send({ drop: true }));
  scheduleSelect.addEventListener("change", reset);
  for (const control of Object.values(controls)) control.input.addEventListener("change", reset);
  // Follow the site's (and JupyterLab's) light/dark switch: repaint the map, whose ink is the text colour.
  const themeWatch = new MutationObserver(redrawMap);
  themeWatch.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  themeWatch.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light"] });
  reset();
  return () => {
    themeWatch.disconnect();
    resizeWatch.disconnect();
    worker.terminate();
    URL.revokeObjectURL(workerUrl);
    if (frame !== null) cancelAnimationFrame(frame);
  };
}

export default { render };
