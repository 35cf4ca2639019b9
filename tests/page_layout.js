// page_layout.js: evaluated in a book page by tests/test_layout.py; returns the layout defects it finds.
// Each defect is one line a reader would recognise: what is wrong, and where.
async () => {
  const defects = [];
  const article = document.querySelector("article") || document.body;
  const where = (node) => {
    const text = Array.from((node.innerText || node.textContent || "").trim().replace(/\s+/g, " ")).slice(0, 60).join("");
    return `<${node.tagName.toLowerCase()}${node.className && typeof node.className === "string" ? "." + node.className.trim().split(/\s+/).join(".") : ""}> "${text}"`;
  };
  const visible = (node) => {
    const box = node.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(node).visibility !== "hidden";
  };

  // 1. The page is no wider than the screen.
  const pageWidth = document.documentElement.scrollWidth;
  if (pageWidth > window.innerWidth + 1) {
    const culprits = [...article.querySelectorAll("*")]
      .filter((node) => visible(node) && node.getBoundingClientRect().right > window.innerWidth + 1)
      .filter((node) => !node.parentElement || node.parentElement.getBoundingClientRect().right <= window.innerWidth + 1)
      .slice(0, 3).map(where);
    defects.push(`page is ${pageWidth} px wide on a ${window.innerWidth} px screen; too wide: ${culprits.join("; ")}`);
  }

  // 2. No block needs sideways scrolling, except a table that says so: its scrollbar takes
  // visible room and a scroll cue (book.css fades the side where columns hide) marks the cut.
  const blocks = article.querySelectorAll("pre, div.highlight, div.cell_output, div.output, table, .pst-scrollable-table-container, mjx-container[display=true], div.math, figure");
  for (const node of blocks) {
    if (!visible(node) || getComputedStyle(node).display.startsWith("inline")) continue;
    if (node.scrollWidth <= node.clientWidth + 1) continue;
    const scrolls = ["auto", "scroll"].includes(getComputedStyle(node).overflowX);
    const tableWithScrollbar = scrolls && node.querySelector("table") && node.offsetHeight - node.clientHeight > 4;
    const cue = (getComputedStyle(node).maskImage || getComputedStyle(node).webkitMaskImage || "").includes("gradient");
    if (!tableWithScrollbar) {
      defects.push(`needs sideways scrolling (${node.scrollWidth} px in ${node.clientWidth} px): ${where(node)}`);
    } else if (!cue) {
      defects.push(`table scrolls sideways without a scroll cue (${node.scrollWidth} px in ${node.clientWidth} px): ${where(node)}`);
    }
  }
  // On a laptop, code lines (at most 88 characters) fit the column without wrapping.
  if (window.innerWidth >= 1200) {
    for (const pre of article.querySelectorAll("div.cell_input pre")) {
      const style = getComputedStyle(pre);
      const lines = pre.textContent.replace(/\n$/, "").split("\n").length;
      const content = pre.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
      if (visible(pre) && content > lines * parseFloat(style.lineHeight) + 2) {
        defects.push(`code wraps on a laptop screen: ${where(pre)}`);
      }
    }
  }
  for (const node of article.querySelectorAll("img, svg, mjx-container")) {
    const box = node.getBoundingClientRect();
    const column = article.getBoundingClientRect();
    if (visible(node) && box.right > column.right + 1 && !node.closest(".pst-scrollable-table-container")) {
      defects.push(`sticks out of the text column by ${Math.round(box.right - column.right)} px: ${where(node)}`);
    }
  }

  // 3. Every figure has a number, a caption and alt text that says what it shows, and text a
  // phone can show. The smallest text of a figure is read from the image file: a figure drawn by
  // matplotlib records it, with the file's width in points, as PNG text or SVG metadata (the
  // chapters' figure display, lossacc.figures); an SVG with <text> elements is measured as is.
  const MIN_FIGURE_TEXT_PX = 9;
  const smallestText = async (image) => {
    const response = await fetch(image.currentSrc || image.src);
    if (/\.svg$/i.test(new URL(response.url).pathname)) {
      const svg = new DOMParser().parseFromString(await response.text(), "image/svg+xml").documentElement;
      const recorded = svg.querySelector("metadata description");
      if (recorded && recorded.textContent.trim().startsWith("{")) return JSON.parse(recorded.textContent);
      const viewBox = (svg.getAttribute("viewBox") || "").split(/[\s,]+/).map(Number);
      const sized = [...svg.querySelectorAll("text")].filter((t) => t.textContent.trim())
        .map((t) => ({ text: t.textContent.trim(), points: parseFloat(t.getAttribute("font-size") || t.closest("[font-size]")?.getAttribute("font-size")) }))
        .filter((t) => t.points > 0).sort((a, b) => a.points - b.points);
      return sized.length && viewBox.length === 4 ? { ...sized[0], widthPoints: viewBox[2] } : null;
    }
    // PNG: the tEXt chunk "lossacc-figure" holds {"text", "points", "pixelsPerInch"}.
    const bytes = new Uint8Array(await response.arrayBuffer());
    const view = new DataView(bytes.buffer);
    const latin1 = (part) => String.fromCharCode(...part);
    for (let at = 8; at + 8 <= bytes.length;) {
      const length = view.getUint32(at);
      const type = latin1(bytes.subarray(at + 4, at + 8));
      if (type === "tEXt") {
        const data = bytes.subarray(at + 8, at + 8 + length);
        const zero = data.indexOf(0);
        if (latin1(data.subarray(0, zero)) === "lossacc-figure") return JSON.parse(latin1(data.subarray(zero + 1)));
      }
      if (type === "IEND") break;
      at += 12 + length;
    }
    return null;
  };
  for (const image of article.querySelectorAll("img")) {
    const figure = image.closest("figure");
    const caption = figure && figure.querySelector("figcaption");
    const alt = (image.getAttribute("alt") || "").trim();
    if (!caption || !caption.innerText.trim()) defects.push(`figure without a caption: ${image.getAttribute("src")}`);
    else if (!caption.querySelector(".caption-number")) defects.push(`figure without a number: ${where(caption)}`);
    if (alt.split(/\s+/).length < 5 || /[0-9a-f]{12,}|\.(png|jpe?g|svg)$/i.test(alt)) {
      defects.push(`figure alt text does not say what it shows ("${alt.slice(0, 60)}"): ${image.getAttribute("src")}`);
    }
    // Its smallest text, scaled to the width the figure is drawn at, is at least 9 CSS px.
    if (visible(image) && !image.naturalWidth) defects.push(`figure did not load: ${image.getAttribute("src")}`);
    else if (visible(image)) {
      const text = await smallestText(image);
      if (!text) defects.push(`figure does not record its text size, so that it can be checked on a phone: ${image.getAttribute("src")}`);
      else {
        // The file's width in points: an SVG's viewBox, or the image's pixels at its pixels per inch.
        const widthPoints = text.widthPoints ?? image.naturalWidth * 72 / text.pixelsPerInch;
        const px = text.points * image.getBoundingClientRect().width / widthPoints;
        if (!(px > 0)) defects.push(`figure text size unreadable from its file: ${image.getAttribute("src")}`);
        if (px < MIN_FIGURE_TEXT_PX) {
          defects.push(`figure text at ${px.toFixed(1)} px ("${text.text}", ${text.points} pt), below ${MIN_FIGURE_TEXT_PX} px: ${image.getAttribute("src")}`);
        }
      }
    }
  }

  // A value a caption computes is text of the caption, not a box.
  for (const value of article.querySelectorAll("figcaption .output")) {
    const style = getComputedStyle(value);
    const filled = !/^(transparent|rgba\(.*, 0\))$/.test(style.backgroundColor);
    if (visible(value) && (filled || parseFloat(style.borderTopWidth) > 0)) {
      defects.push(`caption value drawn as a box (${style.backgroundColor}, border ${style.borderTopWidth}): ${where(value)}`);
    }
  }

  // 4. Explorers: readable text (no overflow, no overlap, at least 11 px), colours that follow the theme.
  const luminance = (color) => {
    const [r, g, b] = (color.match(/[\d.]+/g) || [0, 0, 0]).slice(0, 3).map((v) => Number(v) / 255);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (node) => {
    for (let n = node; n; n = n.parentElement) {
      const color = getComputedStyle(n).backgroundColor;
      const alpha = color.startsWith("rgba") ? Number(color.match(/[\d.]+/g)[3]) : 1;
      if (color !== "transparent" && alpha > 0.5) return color;
    }
    return "rgb(255, 255, 255)";
  };
  const dark = document.documentElement.dataset.theme === "dark";
  for (const explorer of document.querySelectorAll(".lx-explorer")) {
    const name = explorer.getAttribute("aria-label") || "explorer";
    const box = explorer.getBoundingClientRect();
    const textLight = luminance(getComputedStyle(explorer).color) > 0.5;
    const groundLight = luminance(background(explorer)) > 0.5;
    if (dark && (groundLight || !textLight)) defects.push(`${name} does not follow the dark theme (text ${getComputedStyle(explorer).color} on ${background(explorer)})`);
    if (textLight === groundLight) defects.push(`${name}: text and background have the same lightness`);
    for (const node of explorer.querySelectorAll("*")) {
      if (!visible(node) || node.closest(".lx-visually-hidden") || node instanceof SVGElement) continue;
      const ownText = [...node.childNodes].some((c) => c.nodeType === Node.TEXT_NODE && c.textContent.trim());
      if (ownText && parseFloat(getComputedStyle(node).fontSize) < 11) defects.push(`${name}: text smaller than 11 px: ${where(node)}`);
      if (node.scrollWidth > node.clientWidth + 1 && node.clientWidth > 0 && getComputedStyle(node).overflowX !== "visible") {
        defects.push(`${name}: text cut off: ${where(node)}`);
      }
      const inner = node.getBoundingClientRect();
      if (ownText && (inner.right > box.right + 1 || inner.left < box.left - 1)) defects.push(`${name}: text runs out of the explorer: ${where(node)}`);
    }
    for (const svg of explorer.querySelectorAll("svg")) {
      if (!visible(svg)) continue;
      const frame = svg.getBoundingClientRect();
      const texts = [...svg.querySelectorAll("text")].filter((t) => t.textContent.trim());
      const boxes = texts.map((t) => t.getBoundingClientRect());
      texts.forEach((text, i) => {
        const ctm = text.getScreenCTM();  // its scale is the length of a column: upright text has a = 0
        const size = parseFloat(getComputedStyle(text).fontSize) * (ctm ? Math.hypot(ctm.a, ctm.b) : 1);
        if (size < 10.5) defects.push(`${name}: chart text at ${size.toFixed(1)} px: "${text.textContent}"`);
        const b = boxes[i];
        if (b.left < frame.left - 1 || b.right > frame.right + 1 || b.top < frame.top - 1 || b.bottom > frame.bottom + 1) {
          defects.push(`${name}: chart text cut at the edge: "${text.textContent}"`);
        }
        for (let j = i + 1; j < texts.length; j += 1) {
          const o = boxes[j];
          const overlap = Math.min(b.right, o.right) - Math.max(b.left, o.left) > 1 && Math.min(b.bottom, o.bottom) - Math.max(b.top, o.top) > 1;
          if (overlap) defects.push(`${name}: chart texts overlap: "${text.textContent}" and "${texts[j].textContent}"`);
        }
      });
    }
  }

  // 5. A tabular result is a table, not text printed in aligned columns (which wraps into
  // nonsense on a phone). Text is tabular when padding (a run of two or more spaces inside a
  // line, or an indent) lines a word up with the start or end of a word of another line.
  const tokens = (line) => [...line.matchAll(/\S+/g)].map((m) => ({
    start: m.index, end: m.index + m[0].length,
    padded: m.index > 0 && (line.slice(0, m.index).trim() === "" || line.slice(m.index - 2, m.index) === "  "),
  }));
  const printedTable = (text) => {
    const lines = text.split("\n").filter((line) => line.trim()).map(tokens);
    return lines.some((line, i) => line.some((token) => token.padded && lines.some((other, j) => j !== i
      && other.some((o) => o.start === token.start || o.end === token.end))));
  };
  for (const pre of article.querySelectorAll("div.cell_output pre, div.highlight-text pre, div.highlight-none pre, div.highlight-default pre")) {
    if (pre.closest("div.cell_input") || !visible(pre)) continue;
    if (printedTable(pre.textContent)) defects.push(`printed table (text in aligned columns; show a DataFrame): ${where(pre)}`);
  }

  // 6. On a phone the text keeps a right margin as wide as its left one.
  const paragraph = article.querySelector("section > p");
  if (paragraph && window.innerWidth < 600) {
    const box = paragraph.getBoundingClientRect();
    const right = document.documentElement.clientWidth - box.right;
    if (Math.abs(right - box.left) > 2) defects.push(`text margins differ: ${Math.round(box.left)} px left, ${Math.round(right)} px right`);
  }
  return defects;
}
