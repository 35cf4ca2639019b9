// prediction.js: move the predicted probability of the true class for a few examples and
// watch per-example loss, mean loss and accuracy. Mirrors lossacc.predictions exactly.

/** Give class `label` probability p; the other classes share 1 - p in their base proportions. */
function withTrueClassProbability(probs, label, p) {
  const rest = probs.reduce((sum, q, j) => (j === label ? sum : sum + q), 0);
  return probs.map((q, j) => {
    if (j === label) return p;
    return rest > 0 ? (q * (1 - p)) / rest : (1 - p) / (probs.length - 1);
  });
}

function render({ model, el: host }) {
  const { classes, examples } = model.get("data");
  const root = el("div", { class: "lx-explorer", role: "group", "aria-label": "Prediction explorer" });
  const list = el("div", { class: "lx-examples" });

  const rows = examples.map((example, i) => {
    const trueClass = classes[example.label];
    const control = slider({
      label: `${example.name}: probability of ${trueClass}`, hideLabel: true,
      min: 0.01, max: 0.99, step: 0.01, value: example.probs[example.label], name: `p${i}`,
    });
    const predicted = el("span", { class: "lx-example-predicted", "data-readout": `predicted-${i}` });
    const loss = el("span", { class: "lx-example-loss", "data-readout": `loss-${i}` });
    list.append(el("div", { class: "lx-example" }, [
      el("span", { class: "lx-example-name", text: `${example.name}` }),
      control.root,
      predicted,
      loss,
    ]));
    return { example, control, predicted, loss };
  });

  const accuracy = readout("accuracy", "accuracy");
  const meanLoss = readout("mean-loss", "mean loss");
  const trace = svgEl("svg", { role: "img", "aria-label": "Accuracy and mean loss after each move" });
  const reset = el("button", { class: "lx-button", type: "button", text: "Reset" });
  const status = el("p", { class: "lx-legend", "aria-live": "polite" });
  const header = el("p", { class: "lx-legend", text: "Each slider: the probability the model gives to the example's true class. Then: the predicted class, and the loss −ln p." });
  root.append(
    header,
    list,
    el("div", { class: "lx-readouts" }, [accuracy.root, meanLoss.root]),
    status,
    el("div", { class: "lx-panel" }, [trace, accuracyLossLegend()]),
    reset,
  );
  host.append(root);

  const points = [];
  function update() {
    let losses = 0, right = 0;
    for (const row of rows) {
      const p = Number(row.control.input.value);
      const probs = withTrueClassProbability(row.example.probs, row.example.label, p);
      const predicted = argmax(probs);
      const correct = predicted === row.example.label;
      const loss = -Math.log(probs[row.example.label]);
      row.predicted.textContent = `→ ${classes[predicted]} ${correct ? "✓" : "✗"}`;
      row.predicted.classList.toggle("lx-right", correct);
      row.predicted.classList.toggle("lx-wrong", !correct);
      row.predicted.dataset.value = String(predicted);
      row.loss.dataset.value = String(loss);
      row.loss.textContent = `loss ${fmt(loss)}`;
      losses += loss;
      right += correct ? 1 : 0;
    }
    const point = { accuracy: right / rows.length, meanLoss: losses / rows.length };
    accuracy.set(point.accuracy);
    meanLoss.set(point.meanLoss);
    status.textContent = `${right} of ${rows.length} right; mean loss ${fmt(point.meanLoss)}.`;
    pushTrace(points, point);
    drawTrace(trace, points);
  }
  for (const row of rows) row.control.input.addEventListener("input", update);
  reset.addEventListener("click", () => {
    for (const row of rows) row.control.setValue(row.example.probs[row.example.label]);
    points.length = 0;
    update();
  });
  redrawOnResize(trace, update);
  update();
}

export default { render };
