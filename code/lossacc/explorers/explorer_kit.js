// explorer_kit.js: the building blocks every explorer of the book shares.
// Each explorer's file is appended to this one and the whole is served as one ES module,
// so these helpers need no import. Everything runs in the browser: the explorers respond
// in Jupyter and in the built site alike, with no kernel and no network.

const SVG_NS = "http://www.w3.org/2000/svg";

// Elements that take key presses. JupyterLab runs its keyboard shortcuts on every key pressed
// in a notebook, also in a focused slider, so the arrow keys, Home and End would move between
// cells instead of moving the slider. Its toolkit (Lumino) leaves the keys of an element marked
// `data-lm-suppress-shortcuts` to that element, as any web page does; `el` marks these.
const KEYBOARD_TAGS = new Set(["input", "button", "select", "textarea"]);

/** Create an HTML element with attributes and children. */
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  if (KEYBOARD_TAGS.has(tag) || "tabindex" in attrs) node.setAttribute("data-lm-suppress-shortcuts", "true");
  for (const child of [].concat(children)) if (child) node.append(child);
  return node;
}

/** Create an SVG element with attributes. */
function svgEl(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

let explorerCounter = 0;
/** A page-unique id, so labels and aria attributes can point at their controls. */
function uniqueId(prefix) {
  explorerCounter += 1;
  return `${prefix}-${explorerCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Format a number with `digits` decimals; infinite losses print as ∞. */
function fmt(value, digits = 3) {
  if (value === Infinity) return "∞";
  return value.toFixed(digits);
}

/**
 * A labelled range slider (mouse, touch or arrow keys). `hideLabel` keeps the label for
 * screen readers only, where the surrounding layout already names the slider.
 * Returns {root, input, setValue}.
 */
function slider({ label, min, max, step, value, name, hideLabel = false, format = (v) => fmt(v, 2) }) {
  const id = uniqueId("slider");
  const input = el("input", {
    type: "range", id, min, max, step, value, "data-name": name, "aria-label": label,
  });
  const shown = el("output", { for: id, class: "lx-slider-value", text: format(Number(value)) });
  input.addEventListener("input", () => { shown.textContent = format(Number(input.value)); });
  const labelNode = el("label", { for: id, text: label, class: hideLabel ? "lx-visually-hidden" : "" });
  const root = el("div", { class: hideLabel ? "lx-slider lx-slider-bare" : "lx-slider" }, [labelNode, input, shown]);
  const setValue = (v) => { input.value = v; shown.textContent = format(Number(input.value)); };
  return { root, input, setValue };
}

/**
 * A readout: a name and a number. The full-precision value sits in `data-value`
 * (tests read it); the text shows it rounded.
 */
function readout(name, label) {
  const value = el("span", { class: "lx-readout-value", "data-readout": name });
  const root = el("div", { class: "lx-readout" }, [el("span", { class: "lx-readout-label", text: label }), value]);
  const set = (number, digits = 3) => {
    value.dataset.value = String(number);
    value.textContent = fmt(number, digits);
  };
  return { root, set };
}

/** Draw a y-axis with ticks at `ticks` (values) onto `svg`, at x position `x`. */
function drawAxis(svg, { x, ticks, toY, side, format, title, titleX }) {
  const group = svgEl("g", { class: "lx-axis" });
  for (const tick of ticks) {
    const y = toY(tick);
    group.append(svgEl("line", { x1: x, x2: side === "left" ? x - 4 : x + 4, y1: y, y2: y }));
    const text = svgEl("text", { x: side === "left" ? x - 6 : x + 6, y: y + 4, "text-anchor": side === "left" ? "end" : "start" });
    text.textContent = format(tick);
    group.append(text);
  }
  const label = svgEl("text", { x: titleX, y: 13, "text-anchor": side === "left" ? "start" : "end", class: "lx-axis-title" });
  label.textContent = title;
  group.append(label);
  svg.append(group);
}

/** Label an x-axis: `ticks` (values) centred under their positions at height `y`, and `title`
 * centred at (`titleX`, `titleY`). */
function drawXLabels(svg, { ticks, toX, y, title, titleX, titleY }) {
  for (const tick of ticks) {
    const label = svgEl("text", { x: toX(tick), y, "text-anchor": "middle" });
    label.textContent = String(tick);
    svg.append(label);
  }
  const xTitle = svgEl("text", { x: titleX, y: titleY, "text-anchor": "middle", class: "lx-axis-title" });
  xTitle.textContent = title;
  svg.append(xTitle);
}

/**
 * The width of a chart in CSS pixels. Charts draw with one SVG unit per pixel, so their text
 * keeps its CSS size (at least 11 px) on a phone and on a laptop alike.
 */
function chartWidth(svg) {
  const width = svg.getBoundingClientRect().width;
  return width > 0 ? Math.round(width) : 420;
}

/** Call `redraw` whenever `svg` is shown at another width than it was drawn for (its viewBox). */
function redrawOnResize(svg, redraw) {
  new ResizeObserver(() => {
    const drawnFor = Number((svg.getAttribute("viewBox") || "").split(" ")[2]);
    if (Math.abs(chartWidth(svg) - drawnFor) > 2) redraw();
  }).observe(svg);
}

/** Evenly spaced "nice" ticks from 0 to at least `top`. */
function niceTicks(top, count = 4) {
  const raw = top / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  return Array.from({ length: Math.ceil(top / step) + 1 }, (_, i) => i * step);
}

/** The legend under every accuracy-and-loss plot; `note` adds a remark after it. */
function accuracyLossLegend(note = "") {
  const legend = el("p", { class: "lx-legend" });
  legend.innerHTML = '<span class="lx-acc-key">── accuracy</span> (left axis) &nbsp; <span class="lx-loss-key">- - mean loss</span> (right axis)' + note;
  return legend;
}

/**
 * Accuracy (left axis, 0..1) and mean loss (right axis) along `points` = [{accuracy, meanLoss}]:
 * the picture of the two metrics parting ways. Dots mark point `marked` (default: the last);
 * `xTicks` = [{at, label}] and dashed `dividers` are placed in point-index units.
 */
function drawAccuracyAndLoss(svg, points, { xTitle, marked = points.length - 1, xTicks = [], dividers = [] }) {
  const width = chartWidth(svg), height = 200, left = 46, right = 46, top = 24, bottom = 34;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const finiteLosses = points.map((p) => p.meanLoss).filter(Number.isFinite);
  const lossTicks = niceTicks(Math.max(0.5, ...finiteLosses));
  const lossTop = lossTicks[lossTicks.length - 1];
  const n = Math.max(points.length - 1, 1);
  const toX = (i) => left + ((width - left - right) * i) / n;
  const toYAcc = (a) => top + (height - top - bottom) * (1 - a);
  const toYLoss = (l) => top + (height - top - bottom) * (1 - Math.min(l, lossTop) / lossTop);
  drawAxis(svg, { x: left, ticks: [0, 0.25, 0.5, 0.75, 1], toY: toYAcc, side: "left", format: (v) => v.toFixed(2), title: "accuracy", titleX: 2 });
  drawAxis(svg, { x: width - right, ticks: lossTicks, toY: toYLoss, side: "right", format: (v) => String(+v.toFixed(2)), title: "mean loss", titleX: width - 2 });
  for (const at of dividers) {
    svg.append(svgEl("line", { x1: toX(at), x2: toX(at), y1: top, y2: height - bottom, class: "lx-threshold" }));
  }
  for (const { at, label } of xTicks) {
    // Ticks at the ends lean inwards, clear of the axes' own labels.
    const anchor = toX(at) < left + 12 ? "start" : toX(at) > width - right - 12 ? "end" : "middle";
    const text = svgEl("text", { x: toX(at), y: height - bottom + 14, "text-anchor": anchor });
    text.textContent = label;
    svg.append(text);
  }
  const title = svgEl("text", { x: (left + width - right) / 2, y: height - 5, "text-anchor": "middle", class: "lx-axis-title" });
  title.textContent = xTitle;
  svg.append(title);
  const line = (toY, key, cls) => {
    const d = points.map((p, i) => `${i ? "L" : "M"}${toX(i).toFixed(1)},${toY(p[key]).toFixed(1)}`).join("");
    svg.append(svgEl("path", { d, class: cls }));
    svg.append(svgEl("circle", { cx: toX(marked), cy: toY(points[marked][key]), r: 3.5, class: cls }));
  };
  line(toYAcc, "accuracy", "lx-acc");
  line(toYLoss, "meanLoss", "lx-loss");
}

/** The running trace of the reader's moves. */
function drawTrace(svg, points) {
  drawAccuracyAndLoss(svg, points, { xTitle: "your moves →" });
}

/**
 * Stacked histogram of true-class probabilities: `counts[b][s]` examples of series `s` (CSS
 * class `classes[s]`) in bin `b` of [0, 1]. The y axis reaches at least `yMax` (default: the
 * tallest bar); taller bars are cut and labelled with their height. A `threshold` p draws the
 * decision threshold.
 */
function drawProbabilityHistogram(svg, { counts, classes, yMax = 0, yTitle = "examples", threshold = null }) {
  const width = chartWidth(svg), height = 210, left = 46, right = 10, top = 28, bottom = 34;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const bins = counts.length;
  const heights = counts.map((bin) => bin.reduce((a, b) => a + b, 0));
  const ticks = niceTicks(Math.max(1, yMax || Math.max(...heights)));
  const yTop = ticks[ticks.length - 1];
  const toX = (p) => left + (width - left - right) * p;
  const toY = (c) => top + (height - top - bottom) * (1 - Math.min(c, yTop) / yTop);
  drawAxis(svg, { x: left, ticks, toY, side: "left", format: (v) => String(v), title: yTitle, titleX: 2 });
  const barWidth = (width - left - right) / bins - 1;
  counts.forEach((bin, b) => {
    const x = toX(b / bins) + 0.5;
    let base = 0;
    bin.forEach((count, s) => {
      if (count) svg.append(svgEl("rect", { x, y: toY(base + count), width: barWidth, height: toY(base) - toY(base + count), class: classes[s] }));
      base += count;
    });
    if (base > yTop) {
      const label = svgEl("text", { x: x + barWidth / 2, y: top - 3, "text-anchor": "middle" });
      label.textContent = String(base);
      svg.append(label);
    }
  });
  if (threshold !== null) {
    svg.append(svgEl("line", { x1: toX(threshold), x2: toX(threshold), y1: top - 6, y2: toY(0), class: "lx-threshold" }));
    const label = svgEl("text", { x: toX(threshold) + 4, y: top, class: "lx-axis-title" });
    label.textContent = "decision threshold";
    svg.append(label);
  }
  drawXLabels(svg, { ticks: [0, 0.25, 0.5, 0.75, 1], toX, y: height - bottom + 14,
    title: "probability of the true class", titleX: (left + width - right) / 2, titleY: height - 5 });
}

/** Keep the last `limit` points of a running trace, skipping repeats of the last one. */
function pushTrace(points, point, limit = 60) {
  const last = points[points.length - 1];
  if (last && last.accuracy === point.accuracy && last.meanLoss === point.meanLoss) return;
  points.push(point);
  if (points.length > limit) points.shift();
}

/** Cross-entropy of the true class from logits `z`: ln sum_j e^{z_j} - z_y (shifted by max z). */
function lossFromLogits(z, y) {
  const top = Math.max(...z);
  let sum = 0;
  for (const value of z) sum += Math.exp(value - top);
  return -(z[y] - top - Math.log(sum));
}

/** Index of the largest entry; ties go to the lower index, as numpy.argmax. */
function argmax(values) {
  let best = 0;
  for (let j = 1; j < values.length; j += 1) if (values[j] > values[best]) best = j;
  return best;
}

/**
 * Grouped vertical bars on `svg`: for each of `categories`, one bar per entry of `series`
 * ({cls}: its CSS class), of height `values[series][category]` on the y axis `[0, top]`.
 */
function drawBars(svg, { categories, series, values, top, yFormat = (v) => v.toFixed(2), title }) {
  const width = chartWidth(svg), height = 200, left = 46, right = 10, topPad = 24, bottom = 34;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const toY = (v) => topPad + (height - topPad - bottom) * (1 - Math.min(v, top) / top);
  drawAxis(svg, { x: left, ticks: niceTicks(top).filter((t) => t <= top + 1e-9), toY, side: "left", format: yFormat, title, titleX: 2 });
  const slot = (width - left - right) / categories.length;
  const barWidth = (slot * 0.8) / series.length;
  categories.forEach((category, c) => {
    series.forEach((s, j) => {
      const v = values[j][c];
      const x = left + c * slot + slot * 0.1 + j * barWidth;
      svg.append(svgEl("rect", { x, y: toY(v), width: Math.max(barWidth - 1, 1), height: toY(0) - toY(v), class: s.cls }));
    });
    const label = svgEl("text", { x: left + c * slot + slot / 2, y: height - bottom + 14, "text-anchor": "middle" });
    label.textContent = category;
    svg.append(label);
  });
}
