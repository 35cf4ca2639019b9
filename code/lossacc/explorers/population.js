// population.js: a validation set of two-class predictions in three groups; sliders move
// each group's true-class logit. Mirrors lossacc.asymmetry.population_readouts exactly.

const BINS = 20;

/** Loss from the true-class log-odds x: -ln sigmoid(x), as the cross-entropy of logits [0, x]. */
function logOddsLoss(x) {
  return lossFromLogits([0, x], 1);
}

function render({ model, el: host }) {
  const { group_names: groupNames, true_log_odds: logOdds, argmax_margin: margin, group, shift } = model.get("data");
  const n = logOdds.length;
  const root = el("div", { class: "lx-explorer", role: "group", "aria-label": "Population explorer" });
  const sliders = groupNames.map((name, g) => slider({
    label: `shift ${name}`, min: shift.min, max: shift.max, step: shift.step, value: 0, name: `shift${g}`,
    format: (v) => (v > 0 ? "+" : "") + v.toFixed(1),
  }));
  const accuracy = readout("accuracy", "accuracy");
  const meanLoss = readout("mean-loss", "mean loss");
  const worst = readout("worst-share", "loss share of the worst 1%");
  const groupTable = el("table", { class: "lx-table" });
  groupTable.append(el("thead", {}, [el("tr", {}, ["group", "size", "accuracy", "mean loss"].map((h) => el("th", { scope: "col", text: h })))]));
  const groupBody = el("tbody");
  groupTable.append(groupBody);
  const counts = groupNames.map((_, g) => group.filter((x) => x === g).length);
  const groupCells = groupNames.map((name, g) => {
    const acc = el("td", { "data-readout": `group-accuracy-${g}` });
    const loss = el("td", { "data-readout": `group-loss-${g}` });
    groupBody.append(el("tr", {}, [el("th", { scope: "row", class: `lx-group-${g}`, text: name }), el("td", { text: String(counts[g]) }), acc, loss]));
    return { acc, loss };
  });
  const histogram = svgEl("svg", { role: "img", "aria-label": "Histogram of true-class probabilities by group" });
  const trace = svgEl("svg", { role: "img", "aria-label": "Accuracy and mean loss after each move" });
  const reset = el("button", { class: "lx-button", type: "button", text: "Reset" });
  root.append(
    el("div", { class: "lx-grid" }, [
      el("div", { class: "lx-panel" }, [...sliders.map((s) => s.root), el("div", { class: "lx-readouts" }, [accuracy.root, meanLoss.root, worst.root]), groupTable]),
      el("div", { class: "lx-panel" }, [histogram, trace, accuracyLossLegend()]),
    ]),
    reset,
  );
  host.append(root);

  const points = [];
  function update() {
    const shifts = sliders.map((s) => Number(s.input.value));
    const losses = new Array(n);
    const probs = new Array(n);
    let lossSum = 0, right = 0;
    const groupLoss = groupNames.map(() => 0), groupRight = groupNames.map(() => 0);
    for (let i = 0; i < n; i += 1) {
      const s = shifts[group[i]];
      losses[i] = logOddsLoss(logOdds[i] + s);
      probs[i] = Math.exp(-losses[i]);
      const correct = margin[i] + s > 0;
      lossSum += losses[i];
      groupLoss[group[i]] += losses[i];
      if (correct) { right += 1; groupRight[group[i]] += 1; }
    }
    const sorted = [...losses].sort((a, b) => b - a);
    let worstSum = 0;
    for (let i = 0; i < Math.ceil(0.01 * n); i += 1) worstSum += sorted[i];
    const point = { accuracy: right / n, meanLoss: lossSum / n };
    accuracy.set(point.accuracy);
    meanLoss.set(point.meanLoss);
    worst.set(worstSum / lossSum);
    groupCells.forEach((cells, g) => {
      cells.acc.dataset.value = String(groupRight[g] / counts[g]);
      cells.acc.textContent = fmt(groupRight[g] / counts[g]);
      cells.loss.dataset.value = String(groupLoss[g] / counts[g]);
      cells.loss.textContent = fmt(groupLoss[g] / counts[g]);
    });
    const binCounts = Array.from({ length: BINS }, () => groupNames.map(() => 0));
    probs.forEach((p, i) => { binCounts[Math.min(Math.floor(p * BINS), BINS - 1)][group[i]] += 1; });
    drawProbabilityHistogram(histogram, { counts: binCounts, classes: groupNames.map((_, g) => `lx-fill-${g}`), threshold: 0.5 });
    pushTrace(points, point);
    drawTrace(trace, points);
  }
  for (const s of sliders) s.input.addEventListener("input", update);
  reset.addEventListener("click", () => {
    for (const s of sliders) s.setValue(0);
    points.length = 0;
    update();
  });
  redrawOnResize(histogram, update);
  update();
}

export default { render };
