// exact_match.js: each of L answer tokens is right with probability p. Sliders move p and L;
// the readouts and the chart follow. Mirrors lossacc.sequences.exact_match_readouts exactly.

/** Readouts at per-token probability p and answer length L (see the Python twin). */
function exactMatchReadouts(p, L) {
  const tokenLoss = -Math.log(p);
  return {
    tokenLoss,
    exactMatch: p ** L,
    answerLoss: L * tokenLoss,
    expectedWrong: L * (1 - p),
    halfLoss: Math.log(2) / L,
    longestHalf: Math.floor(Math.log(0.5) / Math.log(p) + 1e-12),
  };
}

/** Exact match exp(-L x) and the per-token probability exp(-x) against the per-token loss x. */
function drawExactMatch(svg, r, L, xMax) {
  const width = chartWidth(svg), height = 220, left = 46, right = 12, top = 24, bottom = 36;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const toX = (x) => left + ((width - left - right) * x) / xMax;
  const toY = (v) => top + (height - top - bottom) * (1 - v);
  drawAxis(svg, { x: left, ticks: [0, 0.25, 0.5, 0.75, 1], toY, side: "left", format: (v) => v.toFixed(2), title: "share right", titleX: 2 });
  const ticks = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7].filter((t) => t <= xMax + 1e-9);
  drawXLabels(svg, { ticks, toX, y: height - bottom + 14, title: "per-token loss −ln p (nats)", titleX: (left + width - right) / 2, titleY: height - 4 });
  svg.append(svgEl("line", { x1: toX(0), x2: toX(xMax), y1: toY(0.5), y2: toY(0.5), class: "lx-threshold" }));
  svg.append(svgEl("line", { x1: toX(r.halfLoss), x2: toX(r.halfLoss), y1: top, y2: toY(0), class: "lx-threshold" }));
  const curve = (length, cls) => {
    const steps = 120;
    const d = Array.from({ length: steps + 1 }, (_, i) => {
      const x = (xMax * i) / steps;
      return `${i ? "L" : "M"}${toX(x).toFixed(1)},${toY(Math.exp(-length * x)).toFixed(1)}`;
    }).join("");
    svg.append(svgEl("path", { d, class: cls }));
    svg.append(svgEl("circle", { cx: toX(r.tokenLoss), cy: toY(Math.exp(-length * r.tokenLoss)), r: 4, class: cls }));
  };
  curve(1, "lx-loss");
  curve(L, "lx-acc");
}

function render({ model, el: host }) {
  const { p: pRange, length: lengthRange, loss_max: xMax } = model.get("data");
  const root = el("div", { class: "lx-explorer", role: "group", "aria-label": "Exact-match explorer" });
  const pSlider = slider({ label: "per-token probability p", ...pRange, value: pRange.start, name: "p", format: (v) => v.toFixed(3) });
  const lengthSlider = slider({ label: "answer length L", ...lengthRange, value: lengthRange.start, name: "length", format: (v) => String(v) });
  const shown = [
    ["token-loss", "per-token loss −ln p"], ["exact-match", "exact match p^L"], ["answer-loss", "loss of the whole answer"],
    ["expected-wrong", "wrong tokens per answer"], ["half-loss", "per-token loss for 50% exact match"],
    ["longest-half", "longest answer right half the time"],
  ].map(([name, label]) => readout(name, label));
  const chart = svgEl("svg", { role: "img", "aria-label": "Exact match and per-token probability against the per-token loss" });
  const legend = el("p", { class: "lx-legend" });
  host.append(root);
  root.append(el("div", { class: "lx-grid" }, [
    el("div", { class: "lx-panel" }, [pSlider.root, lengthSlider.root, el("div", { class: "lx-readouts" }, shown.map((s) => s.root))]),
    el("div", { class: "lx-panel" }, [chart, legend]),
  ]));

  function update() {
    const p = Number(pSlider.input.value), L = Number(lengthSlider.input.value);
    const r = exactMatchReadouts(p, L);
    const [tokenLoss, exactMatch, answerLoss, expectedWrong, halfLoss, longestHalf] = shown;
    tokenLoss.set(r.tokenLoss);
    exactMatch.set(r.exactMatch);
    answerLoss.set(r.answerLoss);
    expectedWrong.set(r.expectedWrong, 2);
    halfLoss.set(r.halfLoss);
    longestHalf.set(r.longestHalf, 0);
    legend.innerHTML = `<span class="lx-acc-key">── exact match, L = ${L}</span> &nbsp; <span class="lx-loss-key">- - one token, p = e^−loss</span>; dotted: 50% and the loss that gives it`;
    drawExactMatch(chart, r, L, xMax);
  }
  pSlider.input.addEventListener("input", update);
  lengthSlider.input.addEventListener("input", update);
  redrawOnResize(chart, update);
  update();
}

export default { render };
