// explorer_kit.js: the building blocks every explorer of the book shares.
// Each explorer's file is appended to this one and the whole is served as one ES module,
// so these helpers need no import. Everything runs in the browser: the explorers respond
// in Jupyter and in the built site alike, with no kernel and no network.

const SVG_NS = "http://www.w3.org/2000/svg";

/** Create an HTML element with attributes and children. */
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
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
  const label = svgEl("text", { x: titleX, y: 12, "text-anchor": side === "left" ? "start" : "end", class: "lx-axis-title" });
  label.textContent = title;
  group.append(label);
  svg.append(group);
}

/** Evenly spaced "nice" ticks from 0 to at least `top`. */
function niceTicks(top, count = 4) {
  const raw = top / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  return Array.from({ length: Math.ceil(top / step) + 1 }, (_, i) => i * step);
}

/**
 * A trace of accuracy (left axis, 0..1) and mean loss (right axis) over the reader's
 * moves: the picture of the two metrics parting ways. `points` = [{accuracy, meanLoss}].
 */
function drawTrace(svg, points) {
  const width = 420, height = 180, left = 44, right = 48, top = 22, bottom = 26;
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
  const xAxis = svgEl("text", { x: (left + width - right) / 2, y: height - 6, "text-anchor": "middle", class: "lx-axis-title" });
  xAxis.textContent = "your moves →";
  svg.append(xAxis);
  const line = (toY, key, cls) => {
    const d = points.map((p, i) => `${i ? "L" : "M"}${toX(i).toFixed(1)},${toY(p[key]).toFixed(1)}`).join("");
    svg.append(svgEl("path", { d, class: cls }));
    const last = points[points.length - 1];
    svg.append(svgEl("circle", { cx: toX(points.length - 1), cy: toY(last[key]), r: 3.5, class: cls }));
  };
  line(toYAcc, "accuracy", "lx-acc");
  line(toYLoss, "meanLoss", "lx-loss");
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
  const width = 420, height = 190, left = 40, right = 8, topPad = 22, bottom = 30;
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
