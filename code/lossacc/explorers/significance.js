// significance.js: two models scored on n validation examples drawn from one population.
// Mirrors lossacc.significance.significance_readouts exactly (normal approximations).

/** Standard normal CDF, Hart's rational approximation (West 2005), as lossacc.significance.normal_cdf. */
function normalCdf(x) {
  const a = Math.abs(x);
  let tail;
  if (a > 37) tail = 0;
  else if (a < 7.07106781186547) {
    const e = Math.exp(-a * a / 2);
    const num = ((((((3.52624965998911e-02 * a + 0.700383064443688) * a + 6.37396220353165) * a + 33.912866078383) * a
      + 112.079291497871) * a + 221.213596169931) * a + 220.206867912376);
    const den = (((((((8.83883476483184e-02 * a + 1.75566716318264) * a + 16.064177579207) * a + 86.7807322029461) * a
      + 296.564248779674) * a + 637.333633378831) * a + 793.826512519948) * a + 440.413735824752);
    tail = e * num / den;
  } else {
    const e = Math.exp(-a * a / 2);
    const b = a + 1 / (a + 2 / (a + 3 / (a + 4 / (a + 0.65))));
    tail = e / b / 2.506628274631;
  }
  return x > 0 ? 1 - tail : tail;
}

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
/** Population standard deviation (numpy's std). */
function sd(xs) {
  const m = mean(xs);
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
}
/** -ln sigmoid(z) = ln(1 + e^-z), as numpy.logaddexp(0, -z). */
const softplusLoss = (z) => Math.max(0, -z) + Math.log1p(Math.exp(-Math.abs(z)));

/** Everything the readouts need that does not depend on n, for B better by `shift`. */
function population(base, noiseA, noiseB, shift) {
  const zA = base.map((b, i) => b + noiseA[i]);
  const zB = base.map((b, i) => b + shift + noiseB[i]);
  const lossA = zA.map(softplusLoss), lossB = zB.map(softplusLoss);
  const rightA = zA.map((z) => (z > 0 ? 1 : 0)), rightB = zB.map((z) => (z > 0 ? 1 : 0));
  const dAcc = rightB.map((r, i) => r - rightA[i]), dLoss = lossA.map((l, i) => l - lossB[i]);
  return {
    accuracyA: mean(rightA), accuracyB: mean(rightB), lossA: mean(lossA), lossB: mean(lossB),
    accuracyGain: mean(dAcc), lossGain: mean(dLoss), accuracySd: sd(dAcc), lossSd: sd(dLoss),
    discordant: mean(dAcc.map(Math.abs)), lossBSd: sd(lossB),
    accuracyVars: sd(rightA) ** 2 + sd(rightB) ** 2, lossVars: sd(lossA) ** 2 + sd(lossB) ** 2,
  };
}

/** The readouts at n examples (lossacc.significance.significance_readouts). */
function readoutsAt(p, n, z2, z1) {
  const rootN = Math.sqrt(n);
  const rank = (gain, s) => (s > 0 ? normalCdf(gain * rootN / s) : 0.5 + 0.5 * Math.sign(gain));
  const power = (gain, s) => (s > 0 ? normalCdf(Math.abs(gain) * rootN / s - z2) : Number(gain !== 0));
  const pvalue = (z) => 2 * (1 - normalCdf(Math.abs(z)));
  const needed = (gain, s) => (gain <= 0 ? Infinity : (z1 * s / gain) ** 2);
  const q = p.accuracyB;
  const centre = (q + z2 * z2 / (2 * n)) / (1 + z2 * z2 / n);
  const spread = z2 * Math.sqrt(q * (1 - q) / n + z2 * z2 / (4 * n * n)) / (1 + z2 * z2 / n);
  return {
    "accuracy-low": centre - spread, "accuracy-high": centre + spread,
    "loss-half-width": z2 * p.lossBSd / rootN,
    "accuracy-paired-half-width": z2 * p.accuracySd / rootN,
    "accuracy-unpaired-half-width": z2 * Math.sqrt(p.accuracyVars) / rootN,
    "loss-paired-half-width": z2 * p.lossSd / rootN,
    "loss-unpaired-half-width": z2 * Math.sqrt(p.lossVars) / rootN,
    "accuracy-pvalue": p.discordant > 0 ? pvalue(p.accuracyGain * rootN / Math.sqrt(p.discordant)) : 1,
    "loss-pvalue": p.lossSd > 0 ? pvalue(p.lossGain * rootN / p.lossSd) : 1,
    "accuracy-power": power(p.accuracyGain, p.accuracySd), "loss-power": power(p.lossGain, p.lossSd),
    "accuracy-rank": rank(p.accuracyGain, p.accuracySd), "loss-rank": rank(p.lossGain, p.lossSd),
    "accuracy-needed": needed(p.accuracyGain, p.accuracySd), "loss-needed": needed(p.lossGain, p.lossSd),
  };
}

const ROWS = [
  ["true value, A → B", (m) => [`${m}-a`, `${m}-b`], 3],
  ["B's true gain", (m) => [`${m}-gain`], 4],
  ["B on n examples: 95% interval", (m) => (m === "accuracy" ? ["accuracy-low", "accuracy-high"] : ["loss-b-shown", "loss-half-width"]), 3],
  ["gain, paired 95% ±", (m) => [`${m}-paired-half-width`], 4],
  ["gain, two separate samples ±", (m) => [`${m}-unpaired-half-width`], 4],
  ["p-value on a typical set", (m) => [`${m}-pvalue`], 3],
  ["chance the test finds it", (m) => [`${m}-power`], 2],
  ["chance of ranking B first", (m) => [`${m}-rank`], 2],
  ["n for 95% right rankings", (m) => [`${m}-needed`], 0],
];
const JOIN = { "accuracy-low": "–", "loss-b-shown": " ± " };

/** Chance of ranking B first against n (log axis), for both metrics; a dot at the current n. */
function drawRanking(svg, p, n, nMin, nMax, z2, z1) {
  const width = chartWidth(svg), height = 190, left = 46, right = 12, top = 24, bottom = 36;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const toX = (v) => left + (width - left - right) * (Math.log10(v) - Math.log10(nMin)) / (Math.log10(nMax) - Math.log10(nMin));
  const toY = (c) => top + (height - top - bottom) * (1 - (c - 0.5) / 0.5);
  drawAxis(svg, { x: left, ticks: [0.5, 0.75, 1], toY, side: "left", format: (v) => v.toFixed(2), title: "chance of ranking B first", titleX: 2 });
  // Ticks at the ends lean inwards, clear of the y axis's labels and of the edge.
  for (const tick of [100, 1000, 10000, 100000].filter((t) => t >= nMin && t <= nMax)) {
    const anchor = toX(tick) < left + 12 ? "start" : toX(tick) > width - right - 12 ? "end" : "middle";
    const label = svgEl("text", { x: toX(tick), y: height - bottom + 14, "text-anchor": anchor });
    label.textContent = tick.toLocaleString("en-US");
    svg.append(label);
  }
  const xTitle = svgEl("text", { x: (left + width - right) / 2, y: height - 4, "text-anchor": "middle", class: "lx-axis-title" });
  xTitle.textContent = "validation examples n (log scale)";
  svg.append(xTitle);
  const grid = Array.from({ length: 61 }, (_, i) => nMin * (nMax / nMin) ** (i / 60));
  for (const [metric, cls] of [["accuracy", "lx-acc"], ["loss", "lx-loss"]]) {
    const chance = (v) => readoutsAt(p, v, z2, z1)[`${metric}-rank`];
    const d = grid.map((v, i) => `${i ? "L" : "M"}${toX(v).toFixed(1)},${toY(chance(v)).toFixed(1)}`).join("");
    svg.append(svgEl("path", { d, class: cls }));
    svg.append(svgEl("circle", { cx: toX(n), cy: toY(chance(n)), r: 3.5, class: cls }));
  }
  svg.append(svgEl("line", { x1: left, x2: width - right, y1: toY(0.95), y2: toY(0.95), class: "lx-threshold" }));
}

function render({ model, el: host }) {
  const { base, noise_a: noiseA, noise_b: noiseB, z_two_sided: z2, z_one_sided: z1, shift, log_n: logN } = model.get("data");
  const root = el("div", { class: "lx-explorer", role: "group", "aria-label": "Is the difference real? explorer" });
  const sizeSlider = slider({ label: "validation examples n", min: logN.min, max: logN.max, step: logN.step, value: logN.start, name: "log-n", format: (v) => String(Math.round(10 ** v)) });
  const shiftSlider = slider({ label: "B's true advantage (log-odds)", min: shift.min, max: shift.max, step: shift.step, value: shift.start, name: "shift", format: (v) => v.toFixed(2) });
  const nShown = readout("n", "examples n");
  const verdict = el("p", { class: "lx-legend", "data-readout": "verdict", "aria-live": "polite" });
  const table = el("table", { class: "lx-table" });
  table.append(el("thead", {}, [el("tr", {}, ["", "accuracy", "mean loss"].map((h) => el("th", { scope: "col", text: h })))]));
  const body = el("tbody");
  table.append(body);
  const cells = {};
  for (const [label, names, digits] of ROWS) {
    const row = el("tr", {}, [el("th", { scope: "row", text: label })]);
    for (const metric of ["accuracy", "loss"]) {
      const td = el("td");
      names(metric).forEach((name, i) => {
        if (i) td.append(JOIN[names(metric)[0]] || " → ");
        cells[name] = { node: el("span", { "data-readout": name }), digits };
        td.append(cells[name].node);
      });
      row.append(td);
    }
    body.append(row);
  }
  const chart = svgEl("svg", { role: "img", "aria-label": "Chance that accuracy and mean loss rank the better model first, against the number of examples" });
  const legend = el("p", { class: "lx-legend" });
  legend.innerHTML = '<span class="lx-acc-key">── accuracy</span> &nbsp; <span class="lx-loss-key">- - mean loss</span> &nbsp; (dashed line: 95%)';
  root.append(el("div", { class: "lx-grid" }, [
    el("div", { class: "lx-panel" }, [sizeSlider.root, shiftSlider.root, el("div", { class: "lx-readouts" }, [nShown.root]), verdict]),
    el("div", { class: "lx-panel" }, [chart, legend]),
  ]), table);
  host.append(root);

  function update() {
    const n = Math.round(10 ** Number(sizeSlider.input.value));
    const p = population(base, noiseA, noiseB, Number(shiftSlider.input.value));
    const values = {
      ...readoutsAt(p, n, z2, z1),
      "accuracy-a": p.accuracyA, "accuracy-b": p.accuracyB, "loss-a": p.lossA, "loss-b": p.lossB,
      "loss-b-shown": p.lossB, "accuracy-gain": p.accuracyGain, "loss-gain": p.lossGain,
    };
    nShown.set(n, 0);
    for (const [name, { node, digits }] of Object.entries(cells)) {
      node.dataset.value = String(values[name]);
      node.textContent = fmt(values[name], digits);
    }
    const says = (pv) => (pv < 0.05 ? "real (p < 0.05)" : "not shown");
    verdict.textContent = `On a typical validation set of ${n} examples, McNemar's test on accuracy says: ${says(values["accuracy-pvalue"])}; the paired test on the loss says: ${says(values["loss-pvalue"])}.`;
    drawRanking(chart, p, n, 10 ** logN.min, 10 ** logN.max, z2, z1);
  }
  for (const s of [sizeSlider, shiftSlider]) s.input.addEventListener("input", update);
  redrawOnResize(chart, update);
  update();
}

export default { render };
