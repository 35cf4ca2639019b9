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
  const curvesLegend = accuracyLossLegend("; dashed lines: learning-rate drops");
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
    drawProbabilityHistogram(histogram, {
      counts: data.right_count[e].map((right, b) => [right, data.wrong_count[e][b]]),
      classes: ["lx-fill-0", "lx-fill-2"],
      yMax: tallest,
      yTitle: `examples after epoch ${epoch}`,
    });
    // Point i is epoch i + 1; a drop (first epoch at the smaller rate) sits half an epoch before it.
    drawAccuracyAndLoss(curves, summary, {
      xTitle: "epoch",
      marked: e,
      xTicks: niceTicks(epochs, 5).filter((t) => t >= 1 && t <= epochs).map((t) => ({ at: t - 1, label: String(t) })),
      dividers: data.drops.map((drop) => drop - 1.5),
    });
  }
  epochSlider.input.addEventListener("input", update);
  redrawOnResize(histogram, update);
  redrawOnResize(curves, update);
  update();
}

export default { render };
