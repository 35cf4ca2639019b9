// epochs.js: a real run, epoch by epoch. A slider picks the epoch; the histogram shows the
// validation images' true-class probabilities, right ones and wrong ones, and the readouts
// follow. Mirrors lossacc.run_analysis.epoch_readouts (accuracy, mean loss and the loss share
// of wrong answers are derived here from the shipped histograms).

function render({ model, el: host }) {
  const data = model.get("data");
  const epochs = data.lr.length;
  const sum = (values) => values.reduce((a, b) => a + b, 0);
  // Per-epoch summaries from the histograms, for the readouts and the curves.
  const summary = data.right_count.map((rightCounts, e) => {
    const rightLoss = sum(data.right_loss[e]), wrongLoss = sum(data.wrong_loss[e]);
    return {
      accuracy: sum(rightCounts) / data.n,
      meanLoss: (rightLoss + wrongLoss) / data.n,
      wrongLossShare: wrongLoss / (rightLoss + wrongLoss),
    };
  });

  const root = el("div", { class: "lx-explorer", role: "group", "aria-label": "Epoch explorer" });
  const epochSlider = slider({
    label: "epoch", min: 1, max: epochs, step: 1, value: data.start, name: "epoch", format: (v) => String(v),
  });
  const readouts = {
    lr: readout("learning-rate", "learning rate"),
    accuracy: readout("accuracy", "accuracy"),
    meanLoss: readout("mean-loss", "mean loss"),
    wrongShare: readout("wrong-loss-share", "loss share of wrong answers"),
    worst: readout("worst-share", "loss share of the worst 1%"),
    temperature: readout("temperature", "fitted temperature"),
    heldout: readout("heldout-loss", "held-out loss"),
    scaled: readout("heldout-loss-scaled", "held-out loss, scaled"),
  };
  const histogram = svgEl("svg", { role: "img", "aria-label": "Histogram of true-class probabilities, right and wrong" });
  const histogramLegend = el("p", { class: "lx-legend" });
  histogramLegend.innerHTML = '<span class="lx-right">■ right</span> &nbsp; <span class="lx-wrong">■ wrong</span> &nbsp; (bars past the top are cut; the number is their height)';
  const curves = svgEl("svg", { role: "img", "aria-label": "Validation accuracy and mean loss over the epochs" });
  const curvesLegend = el("p", { class: "lx-legend" });
  curvesLegend.innerHTML = '<span class="lx-acc-key">── accuracy</span> (left axis) &nbsp; <span class="lx-loss-key">- - mean loss</span> (right axis); dashed lines: learning-rate drops';
  root.append(
    el("div", { class: "lx-grid" }, [
      el("div", { class: "lx-panel" }, [epochSlider.root, el("div", { class: "lx-readouts" }, Object.values(readouts).map((r) => r.root)), curves, curvesLegend]),
      el("div", { class: "lx-panel" }, [histogram, histogramLegend]),
    ]),
  );
  host.append(root);

  // One y scale for every epoch, so that bars compare across epochs. It is set by the tallest
  // bar outside the last bin (p >= 0.95, where the sure right answers pile up) in a typical
  // epoch (the median over epochs), so that the first, unsettled epochs do not flatten the rest.
  const tallestPerEpoch = data.right_count.map((rightCounts, e) =>
    Math.max(1, ...rightCounts.slice(0, -1).map((count, b) => count + data.wrong_count[e][b])));
  const tallest = 1.2 * [...tallestPerEpoch].sort((a, b) => a - b)[Math.floor(epochs / 2)];

  function update() {
    const epoch = Number(epochSlider.input.value);
    const e = epoch - 1;
    readouts.lr.set(data.lr[e], 4);
    readouts.accuracy.set(summary[e].accuracy);
    readouts.meanLoss.set(summary[e].meanLoss);
    readouts.wrongShare.set(summary[e].wrongLossShare);
    readouts.worst.set(data.worst_share[e]);
    readouts.temperature.set(data.temperature[e], 2);
    readouts.heldout.set(data.heldout_loss[e]);
    readouts.scaled.set(data.heldout_loss_scaled[e]);
    drawProbabilityHistogram(histogram, data.right_count[e], data.wrong_count[e], tallest, epoch);
    drawCurves(curves, summary, data.drops, epoch);
  }
  epochSlider.input.addEventListener("input", update);
  update();
}

/** Stacked bars of right (bottom) and wrong (top) examples per bin of p, on a fixed y scale. */
function drawProbabilityHistogram(svg, rightCounts, wrongCounts, tallest, epoch) {
  const width = 420, height = 200, left = 44, right = 8, top = 24, bottom = 30;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const bins = rightCounts.length;
  const ticks = niceTicks(tallest);
  const yTop = ticks[ticks.length - 1];
  const toX = (p) => left + (width - left - right) * p;
  const toY = (c) => top + (height - top - bottom) * (1 - Math.min(c, yTop) / yTop);
  drawAxis(svg, { x: left, ticks, toY, side: "left", format: (v) => String(v), title: `examples after epoch ${epoch}`, titleX: 2 });
  const barWidth = (width - left - right) / bins - 1;
  for (let b = 0; b < bins; b += 1) {
    const x = toX(b / bins) + 0.5;
    const stack = [[rightCounts[b], "lx-fill-0"], [wrongCounts[b], "lx-fill-2"]];
    let base = 0;
    for (const [count, cls] of stack) {
      if (count) svg.append(svgEl("rect", { x, y: toY(base + count), width: barWidth, height: toY(base) - toY(base + count), class: cls }));
      base += count;
    }
    if (base > yTop) {
      const label = svgEl("text", { x: x + barWidth / 2, y: top - 4, "text-anchor": "middle" });
      label.textContent = String(base);
      svg.append(label);
    }
  }
  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    const label = svgEl("text", { x: toX(p), y: height - bottom + 14, "text-anchor": "middle" });
    label.textContent = String(p);
    svg.append(label);
  }
  const xTitle = svgEl("text", { x: (left + width - right) / 2, y: height - 4, "text-anchor": "middle", class: "lx-axis-title" });
  xTitle.textContent = "probability of the true class";
  svg.append(xTitle);
}

/** Accuracy (left axis) and mean loss (right axis) over all epochs, the chosen one marked. */
function drawCurves(svg, summary, drops, epoch) {
  const width = 420, height = 186, left = 44, right = 48, top = 22, bottom = 30;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const lossTicks = niceTicks(Math.max(...summary.map((s) => s.meanLoss)));
  const lossTop = lossTicks[lossTicks.length - 1];
  const toX = (e) => left + ((width - left - right) * (e - 1)) / Math.max(summary.length - 1, 1);
  const toYAcc = (a) => top + (height - top - bottom) * (1 - a);
  const toYLoss = (l) => top + (height - top - bottom) * (1 - l / lossTop);
  drawAxis(svg, { x: left, ticks: [0, 0.25, 0.5, 0.75, 1], toY: toYAcc, side: "left", format: (v) => v.toFixed(2), title: "accuracy", titleX: 2 });
  drawAxis(svg, { x: width - right, ticks: lossTicks, toY: toYLoss, side: "right", format: (v) => String(+v.toFixed(2)), title: "mean loss", titleX: width - 2 });
  for (const drop of drops) {
    svg.append(svgEl("line", { x1: toX(drop - 0.5), x2: toX(drop - 0.5), y1: top, y2: height - bottom, class: "lx-threshold" }));
  }
  for (const tick of niceTicks(summary.length, 5).filter((t) => t >= 1 && t <= summary.length)) {
    const label = svgEl("text", { x: toX(tick), y: height - bottom + 12, "text-anchor": "middle" });
    label.textContent = String(tick);
    svg.append(label);
  }
  const xTitle = svgEl("text", { x: (left + width - right) / 2, y: height - 2, "text-anchor": "middle", class: "lx-axis-title" });
  xTitle.textContent = "epoch";
  svg.append(xTitle);
  const line = (toY, key, cls) => {
    const d = summary.map((s, i) => `${i ? "L" : "M"}${toX(i + 1).toFixed(1)},${toY(s[key]).toFixed(1)}`).join("");
    svg.append(svgEl("path", { d, class: cls }));
    svg.append(svgEl("circle", { cx: toX(epoch), cy: toY(summary[epoch - 1][key]), r: 4, class: cls }));
  };
  line(toYAcc, "accuracy", "lx-acc");
  line(toYLoss, "meanLoss", "lx-loss");
}

export default { render };
