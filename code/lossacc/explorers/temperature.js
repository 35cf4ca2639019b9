// temperature.js: one temperature T divides every logit. The slider moves T; the reliability
// diagram, accuracy, mean loss, mean confidence and ECE follow. Mirrors
// lossacc.calibration.temperature_readouts (softmax(z / T), right-closed bins (m/M, (m+1)/M]).

/** Readouts of softmax(z / T) over all examples, with the reliability bins. */
function readoutsAt(logits, labels, T, M, edges) {
  const n = labels.length;
  const count = new Array(M).fill(0), confSum = new Array(M).fill(0), rightSum = new Array(M).fill(0);
  let right = 0, lossSum = 0, confidenceSum = 0;
  logits.forEach((row, i) => {
    const z = row.map((v) => v / T);
    const top = Math.max(...z);
    let total = 0;
    for (const v of z) total += Math.exp(v - top);
    const predicted = argmax(z);
    const confidence = Math.exp(z[predicted] - top) / total;
    const isRight = predicted === labels[i];
    lossSum += lossFromLogits(z, labels[i]);
    confidenceSum += confidence;
    if (isRight) right += 1;
    // Bin m holds (edges[m], edges[m + 1]]; start from ceil(c M) - 1 and settle on the edges.
    let b = Math.min(M - 1, Math.max(0, Math.ceil(confidence * M) - 1));
    while (b > 0 && confidence <= edges[b]) b -= 1;
    while (b < M - 1 && confidence > edges[b + 1]) b += 1;
    count[b] += 1;
    confSum[b] += confidence;
    if (isRight) rightSum[b] += 1;
  });
  let ece = 0;
  for (let b = 0; b < M; b += 1) if (count[b]) ece += (count[b] / n) * Math.abs(rightSum[b] / count[b] - confSum[b] / count[b]);
  return {
    accuracy: right / n, meanLoss: lossSum / n, meanConfidence: confidenceSum / n, ece,
    count, accuracyPerBin: count.map((c, b) => (c ? rightSum[b] / c : NaN)), confidencePerBin: count.map((c, b) => (c ? confSum[b] / c : NaN)),
  };
}

/** Reliability diagram: accuracy per bin against the diagonal, the gap shaded, the count per bin on top. */
function drawReliability(svg, r, edges) {
  const width = chartWidth(svg), left = 44, right = 10, bottom = 34;
  // On a narrow chart the counts stand upright, so that neighbouring ones do not run together,
  // below the axis title.
  const upright = (width - left - right) / (edges.length - 1) < 25;
  const top = upright ? 58 : 34, height = 266 + top;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const toX = (v) => left + (width - left - right) * v;
  const toY = (v) => top + (height - top - bottom) * (1 - v);
  drawAxis(svg, { x: left, ticks: [0, 0.25, 0.5, 0.75, 1], toY, side: "left", format: (v) => v.toFixed(2), title: "accuracy in the bin", titleX: 2 });
  svg.append(svgEl("line", { x1: toX(0), y1: toY(0), x2: toX(1), y2: toY(1), class: "lx-threshold" }));
  r.count.forEach((c, b) => {
    const x = toX(edges[b]) + 0.5, w = toX(edges[b + 1]) - toX(edges[b]) - 1;
    const label = svgEl("text", upright
      ? { x: x + w / 2 + 4, y: top - 4, transform: `rotate(-90 ${x + w / 2 + 4} ${top - 4})`, class: c ? "" : "lx-empty" }
      : { x: x + w / 2, y: top - 6, "text-anchor": "middle", class: c ? "" : "lx-empty" });
    label.textContent = String(c);
    svg.append(label);
    if (!c) return;
    const acc = r.accuracyPerBin[b], conf = r.confidencePerBin[b];
    svg.append(svgEl("rect", { x, y: toY(acc), width: w, height: toY(0) - toY(acc), class: "lx-bar-acc" }));
    svg.append(svgEl("rect", { x, y: toY(Math.max(acc, conf)), width: w, height: Math.abs(toY(acc) - toY(conf)), class: "lx-gap" }));
  });
  drawXLabels(svg, { ticks: [0, 0.25, 0.5, 0.75, 1], toX, y: height - bottom + 14,
    title: "top-1 confidence", titleX: (left + width - right) / 2, titleY: height - 4 });
}

/** Mean loss against T over the slider's range, the fitted T dashed and the current T dotted. */
function drawLossCurve(svg, temperatures, losses, current, fitted) {
  const width = chartWidth(svg), height = 176, left = 44, right = 10, top = 30, bottom = 32;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const lo = Math.min(...losses), hi = Math.max(...losses);
  const t0 = temperatures[0], t1 = temperatures[temperatures.length - 1];
  const toX = (t) => left + ((width - left - right) * (t - t0)) / (t1 - t0);
  const toY = (l) => top + (height - top - bottom) * (1 - (l - lo) / (hi - lo || 1));
  const ticks = [lo, (lo + hi) / 2, hi];
  drawAxis(svg, { x: left, ticks, toY, side: "left", format: (v) => v.toFixed(2), title: "mean loss", titleX: 2 });
  svg.append(svgEl("path", { d: temperatures.map((t, i) => `${i ? "L" : "M"}${toX(t).toFixed(1)},${toY(losses[i]).toFixed(1)}`).join(""), class: "lx-loss" }));
  svg.append(svgEl("line", { x1: toX(fitted), x2: toX(fitted), y1: top, y2: height - bottom, class: "lx-threshold" }));
  const mark = svgEl("text", { x: toX(fitted) + 4, y: top + 10, class: "lx-axis-title" });
  mark.textContent = `fitted T = ${fitted.toFixed(2)}`;
  svg.append(mark);
  const i = temperatures.findIndex((t) => Math.abs(t - current) < 1e-9);
  if (i >= 0) svg.append(svgEl("circle", { cx: toX(current), cy: toY(losses[i]), r: 4.5, class: "lx-loss" }));
  // Whole temperatures only, so that no tick label runs into the loss axis's labels.
  const wholeTemperatures = [];
  for (let t = Math.ceil(t0); t <= t1; t += 1) wholeTemperatures.push(t);
  drawXLabels(svg, { ticks: wholeTemperatures, toX, y: height - bottom + 14,
    title: "temperature T", titleX: (left + width - right) / 2, titleY: height - 4 });
}

function render({ model, el: host }) {
  const data = model.get("data");
  const { logits, labels, fitted, bins: M, slider: range } = data;
  const edges = Array.from({ length: M + 1 }, (_, m) => m / M);
  const root = el("div", { class: "lx-explorer", role: "group", "aria-label": "Temperature explorer" });
  const tSlider = slider({ label: "temperature T", min: range.min, max: range.max, step: range.step, value: 1, name: "temperature" });
  const fittedButton = el("button", { class: "lx-button", type: "button", text: `Set T to the fitted ${fitted.toFixed(2)}` });
  const resetButton = el("button", { class: "lx-button", type: "button", text: "Reset to T = 1" });
  const readouts = {
    temperature: readout("temperature", "T"),
    accuracy: readout("accuracy", "accuracy"),
    meanLoss: readout("mean-loss", "mean loss"),
    meanConfidence: readout("mean-confidence", "mean confidence"),
    ece: readout("ece", `ECE (${M} bins)`),
  };
  const diagram = svgEl("svg", { role: "img", "aria-label": "Reliability diagram at the chosen temperature" });
  const legend = el("p", { class: "lx-legend" });
  legend.innerHTML = '<span class="lx-acc-key">■ accuracy in the bin</span> &nbsp; <span class="lx-gap-key">■ gap to the mean confidence</span> &nbsp; dashed: perfect calibration; numbers on top: examples in each bin';
  const curve = svgEl("svg", { role: "img", "aria-label": "Mean loss against the temperature, with the fitted temperature marked" });
  root.append(
    el("p", { class: "lx-legend", text: data.title }),
    el("div", { class: "lx-grid" }, [
      el("div", { class: "lx-panel" }, [tSlider.root, fittedButton, resetButton, el("div", { class: "lx-readouts" }, Object.values(readouts).map((r) => r.root)), curve]),
      el("div", { class: "lx-panel" }, [diagram, legend]),
    ]),
  );
  host.append(root);

  const steps = Math.round((range.max - range.min) / range.step);
  const temperatures = Array.from({ length: steps + 1 }, (_, i) => Number((range.min + i * range.step).toFixed(10)));
  const losses = temperatures.map((t) => readoutsAt(logits, labels, t, M, edges).meanLoss);

  function update() {
    const T = Number(tSlider.input.value);
    const r = readoutsAt(logits, labels, T, M, edges);
    readouts.temperature.set(T, 2);
    readouts.accuracy.set(r.accuracy, 4);
    readouts.meanLoss.set(r.meanLoss, 4);
    readouts.meanConfidence.set(r.meanConfidence, 4);
    readouts.ece.set(r.ece, 4);
    drawReliability(diagram, r, edges);
    drawLossCurve(curve, temperatures, losses, T, fitted);
  }
  redrawOnResize(diagram, update);
  redrawOnResize(curve, update);
  tSlider.input.addEventListener("input", update);
  fittedButton.addEventListener("click", () => { tSlider.setValue(Math.round(fitted / range.step) * range.step); update(); });
  resetButton.addEventListener("click", () => { tSlider.setValue(1); update(); });
  update();
}

export default { render };
