// imbalance.js: a class-balanced base population reweighted to a power-law class mix, with
// logits leaning towards frequent classes. Mirrors lossacc.imbalance.imbalance_readouts exactly.

/** Class shares pi_c ∝ (c + 1)^(-alpha), alpha = ln(rho) / ln(k). */
function powerLawPriors(k, rho) {
  const exponent = Math.log(rho) / Math.log(k);
  const weights = Array.from({ length: k }, (_, c) => (c + 1) ** -exponent);
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

function render({ model, el: host }) {
  const { classes, base_logits: baseLogits, labels, ratio, bias } = model.get("data");
  const k = classes.length;
  const root = el("div", { class: "lx-explorer", role: "group", "aria-label": "Class imbalance explorer" });
  const ratioSlider = slider({ label: "imbalance ratio (most / least frequent class)", min: ratio.min, max: ratio.max, step: ratio.step, value: ratio.start, name: "ratio", format: (v) => `${v.toFixed(0)}:1` });
  const biasSlider = slider({ label: "lean towards frequent classes (β)", min: bias.min, max: bias.max, step: bias.step, value: bias.start, name: "bias", format: (v) => v.toFixed(2) });
  const accuracy = readout("accuracy", "accuracy");
  const balanced = readout("balanced-accuracy", "balanced accuracy");
  const meanLoss = readout("mean-loss", "mean loss");
  const table = el("table", { class: "lx-table" });
  table.append(el("thead", {}, [el("tr", {}, ["class", "share of data", "predicted share", "accuracy (recall)", "mean loss"].map((h) => el("th", { scope: "col", text: h })))]));
  const body = el("tbody");
  table.append(body);
  const cells = classes.map((name, c) => {
    const row = ["prior", "predicted-share", "class-accuracy", "class-loss"].map((key) => el("td", { "data-readout": `${key}-${c}` }));
    body.append(el("tr", {}, [el("th", { scope: "row", text: name }), ...row]));
    return row;
  });
  const bars = svgEl("svg", { role: "img", "aria-label": "Per-class accuracy and share of data" });
  const barLegend = el("p", { class: "lx-legend" });
  barLegend.innerHTML = '<span class="lx-acc-key">■ accuracy (recall)</span> &nbsp; <span class="lx-share-key">■ share of data</span> &nbsp; <span class="lx-pred-key">■ predicted share</span>';
  const trace = svgEl("svg", { role: "img", "aria-label": "Accuracy and mean loss after each move" });
  const reset = el("button", { class: "lx-button", type: "button", text: "Reset" });
  root.append(
    el("div", { class: "lx-grid" }, [
      el("div", { class: "lx-panel" }, [ratioSlider.root, biasSlider.root, el("div", { class: "lx-readouts" }, [accuracy.root, balanced.root, meanLoss.root]), table]),
      el("div", { class: "lx-panel" }, [bars, barLegend, trace, accuracyLossLegend()]),
    ]),
    reset,
  );
  host.append(root);

  const counts = classes.map((_, c) => labels.filter((y) => y === c).length);
  const points = [];
  function update() {
    const priors = powerLawPriors(k, Number(ratioSlider.input.value));
    const beta = Number(biasSlider.input.value);
    const logPriors = priors.map((p) => beta * Math.log(p));
    const right = new Array(k).fill(0), lossSum = new Array(k).fill(0);
    const predictedCounts = classes.map(() => new Array(k).fill(0));
    labels.forEach((y, i) => {
      const z = baseLogits[i].map((s, c) => s + logPriors[c]);
      const predicted = argmax(z);
      predictedCounts[y][predicted] += 1;
      if (predicted === y) right[y] += 1;
      lossSum[y] += lossFromLogits(z, y);
    });
    const classAccuracy = right.map((r, c) => r / counts[c]);
    const classLoss = lossSum.map((l, c) => l / counts[c]);
    const predictedShare = classes.map((_, j) => priors.reduce((sum, p, c) => sum + p * (predictedCounts[c][j] / counts[c]), 0));
    const point = {
      accuracy: priors.reduce((sum, p, c) => sum + p * classAccuracy[c], 0),
      meanLoss: priors.reduce((sum, p, c) => sum + p * classLoss[c], 0),
    };
    accuracy.set(point.accuracy);
    balanced.set(classAccuracy.reduce((a, b) => a + b, 0) / k);
    meanLoss.set(point.meanLoss);
    cells.forEach((row, c) => {
      [priors[c], predictedShare[c], classAccuracy[c], classLoss[c]].forEach((value, j) => {
        row[j].dataset.value = String(value);
        row[j].textContent = fmt(value);
      });
    });
    drawBars(bars, {
      categories: classes, top: 1, title: "per class",
      series: [{ cls: "lx-bar-acc" }, { cls: "lx-bar-share" }, { cls: "lx-bar-pred" }],
      values: [classAccuracy, priors, predictedShare],
    });
    pushTrace(points, point);
    drawTrace(trace, points);
  }
  ratioSlider.input.addEventListener("input", update);
  biasSlider.input.addEventListener("input", update);
  reset.addEventListener("click", () => {
    ratioSlider.setValue(ratio.start);
    biasSlider.setValue(bias.start);
    points.length = 0;
    update();
  });
  redrawOnResize(bars, update);
  update();
}

export default { render };
