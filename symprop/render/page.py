"""One self-contained HTML page: its style and its stepper inline, nothing loaded from anywhere.

Every page symprop writes (the walkthrough, the matrix view, a gradient
check) is built here: a ``<title>``, the style (the window's width, two
columns on a wide screen with the computation graph beside the tables, a
clean print), and the math as MathML, which Chromium and Firefox render
natively. A page whose rows carry ``data-step`` gets a **stepper**: Next /
Previous buttons and the arrow keys walk the rows one at a time, marking
the row and the parts of the graph it names (``data-node``, ``data-input``,
``data-edges``). The buttons are hidden until the script runs, so without
JavaScript the page shows everything, as printed. The icon is an empty
``data:`` URL, so the browser does not ask the file system for one.
"""

from __future__ import annotations

import html

__all__ = ["page", "STYLE", "SCRIPT", "escape"]

escape = html.escape

STYLE = """
:root { color-scheme: light; --line: #d0d7de; --soft: #f6f8fa; --muted: #59636e; --step: #fff3bf;
  --step-edge: #f08c00; --node: #ffe066; --input: #a5d8ff; --edge: #e8590c; }
* { box-sizing: border-box; }
body { margin: 0; color: #1f2328; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header, main, footer { padding: 0 2rem; }
header { padding-top: 1rem; }
h1 { font-size: 1.5rem; margin: .3rem 0; font-weight: 600; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
p { margin: .4rem 0; }
.muted, .note { color: var(--muted); }
math { font-family: "Latin Modern Math", "STIX Two Math", "Cambria Math", "DejaVu Math TeX Gyre", math; font-size: 1.08em; }
main { max-width: 110rem; }
.figure { border: 1px solid var(--line); border-radius: 8px; padding: .3rem .6rem; background: #fff; overflow: auto;
  max-height: 75vh; margin: .5rem 0 1rem; }
.figure h2 { margin-top: .2rem; }
.figure svg { max-width: 100%; height: auto; display: block; margin: 0 auto; }
.figure.full svg { max-width: none; }
body.stepping .figure { position: sticky; top: var(--bar, 3.5rem); z-index: 4; max-height: 40vh; box-shadow: 0 4px 8px #0002; }
body.stepping tr[data-step] { scroll-margin-top: calc(var(--bar, 3.5rem) + 42vh); scroll-margin-bottom: 1rem; }
.scroll { overflow-x: auto; }
table.matrix-rows { width: auto; min-width: 50%; }
table { border-collapse: collapse; width: 100%; margin: .3rem 0 1rem; }
th, td { padding: .35rem .6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: middle; }
th { background: var(--soft); font-weight: 600; font-size: .9rem; }
td.num, th.num { text-align: right; }
td.kind { color: var(--muted); font-style: italic; }
td.rule { font-size: .9rem; min-width: 10rem; } td.rule .form { color: var(--muted); display: block; }
td.value, td.product { white-space: nowrap; }
tr[data-step] { cursor: pointer; }
tr.current td { background: var(--step); }
tr.current td:first-child { box-shadow: inset 4px 0 0 var(--step-edge); }
.stepper { position: sticky; top: 0; z-index: 5; display: flex; flex-wrap: wrap; gap: .4rem 1rem; align-items: center;
  padding: .5rem 2rem; background: var(--soft); border-bottom: 1px solid var(--line); }
.stepper[hidden] { display: none; }
.stepper button { font: inherit; padding: .25rem .9rem; border: 1px solid var(--line); border-radius: 6px; background: #fff;
  cursor: pointer; }
.stepper button:disabled { opacity: .45; cursor: default; }
.stepper .where { font-variant-numeric: tabular-nums; color: var(--muted); min-width: 8em; }
.stepper .caption { flex: 1 1 30rem; }
.stepper .keys { color: var(--muted); font-size: .85rem; }
svg .hl-node polygon, svg .hl-node path, svg .hl-node rect, svg .hl-node ellipse { fill: var(--node) !important;
  stroke: #c77700; stroke-width: 2.5px; }
svg .hl-input polygon, svg .hl-input path, svg .hl-input rect, svg .hl-input ellipse { fill: var(--input) !important;
  stroke: #1864ab; stroke-width: 2.5px; }
svg .hl-edge path { stroke: var(--edge) !important; stroke-width: 3px; }
svg .hl-edge polygon { fill: var(--edge) !important; stroke: var(--edge) !important; }
mtable.matrix { border-left: 1.5px solid currentColor; border-right: 1.5px solid currentColor; padding: 0 .15em;
  background: linear-gradient(currentColor, currentColor) top left / .35em 1.5px no-repeat,
    linear-gradient(currentColor, currentColor) bottom left / .35em 1.5px no-repeat,
    linear-gradient(currentColor, currentColor) top right / .35em 1.5px no-repeat,
    linear-gradient(currentColor, currentColor) bottom right / .35em 1.5px no-repeat; }
mtable.matrix mtd { padding: .1em .45em; }
.shape { color: var(--muted); font-size: .85rem; white-space: nowrap; }
.ok { color: #1a7f37; font-weight: 600; } .bad { color: #cf222e; font-weight: 600; } .kink { color: #9a6700; font-weight: 600; }
ol.derivation li { margin: .25rem 0; }
footer { margin: 2rem 0 1rem; color: var(--muted); font-size: .85rem; }
@media print {
  .stepper, .screen-only { display: none !important; }
  html, body { font-size: 9pt; }
  .scroll { overflow: visible; }
  th, td { padding: .2rem .35rem; }
  header, main, footer { padding: 0; }
  .figure, body.stepping .figure { position: static; max-height: none; overflow: visible; border: none; padding: 0;
    box-shadow: none; break-inside: avoid; }
  .figure svg, .figure.full svg { max-width: 100%; min-width: 0 !important; }
  tr { break-inside: avoid; }
  h2 { break-after: avoid; }
  tr.current td { background: none; box-shadow: none; }
  @page { margin: 1.5cm; }
}
"""

SCRIPT = """
(() => {
  const rows = [...document.querySelectorAll("tr[data-step]")];
  const bar = document.getElementById("stepper");
  if (!rows.length || !bar) return;
  bar.hidden = false;
  const where = bar.querySelector(".where"), caption = bar.querySelector(".caption");
  const prev = bar.querySelector(".prev"), next = bar.querySelector(".next");
  const figure = document.querySelector(".figure");
  const zoom = document.getElementById("zoom");
  const marks = ["current", "hl-node", "hl-input", "hl-edge"];
  const mark = (selector, name) => document.querySelectorAll(selector).forEach(e => e.classList.add(name));
  let at = -1;
  function reveal(elements) {  // scroll the graph so that the step's node and input are in view
    const boxes = elements.filter(Boolean).map(e => e.getBoundingClientRect());
    if (!figure || !boxes.length) return;
    const frame = figure.getBoundingClientRect();
    const box = {top: Math.min(...boxes.map(b => b.top)), bottom: Math.max(...boxes.map(b => b.bottom)),
                 left: Math.min(...boxes.map(b => b.left)), right: Math.max(...boxes.map(b => b.right))};
    if (box.top < frame.top || box.bottom > frame.bottom)
      figure.scrollTop += (box.top + box.bottom) / 2 - (frame.top + frame.bottom) / 2;
    if (box.left < frame.left || box.right > frame.right)
      figure.scrollLeft += (box.left + box.right) / 2 - (frame.left + frame.right) / 2;
  }
  function stepping() {
    if (document.body.classList.contains("stepping")) return;
    document.body.classList.add("stepping");
    document.documentElement.style.setProperty("--bar", bar.offsetHeight + "px");
    const svg = figure && figure.querySelector("svg");
    if (svg && svg.width.baseVal.value > 1.4 * figure.clientWidth) figure.classList.add("full");
    if (zoom) zoom.textContent = figure.classList.contains("full") ? "Fit the graph" : "Graph at full size";
  }
  function show(k) {
    at = Math.max(-1, Math.min(rows.length - 1, k));
    if (at >= 0) stepping();
    marks.forEach(name => document.querySelectorAll("." + name).forEach(e => e.classList.remove(name)));
    prev.disabled = at < 0;
    next.disabled = at === rows.length - 1;
    if (at < 0) {
      where.textContent = rows.length + " steps";
      caption.textContent = bar.dataset.hint;
      return;
    }
    const row = rows[at], data = row.dataset;
    row.classList.add("current");
    if (data.node) mark('[data-key="' + data.node + '"]', "hl-node");
    if (data.input) mark('[data-key="' + data.input + '"]', "hl-input");
    (data.edges || "").split(" ").filter(Boolean).forEach(e => mark('[data-edge="' + e + '"]', "hl-edge"));
    where.textContent = "step " + (at + 1) + " of " + rows.length;
    const text = row.querySelector(".caption");
    caption.replaceChildren(...(text ? [...text.childNodes].map(n => n.cloneNode(true)) : []));
    document.documentElement.style.setProperty("--bar", bar.offsetHeight + "px");
    row.scrollIntoView({block: "nearest"});
    if (figure) reveal([data.node, data.input].map(key => key && figure.querySelector('[data-key="' + key + '"]')));
  }
  next.addEventListener("click", () => show(at + 1));
  prev.addEventListener("click", () => show(at - 1));
  document.addEventListener("keydown", event => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const moves = {ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: rows.length - 1, Escape: -1};
    if (!(event.key in moves)) return;
    event.preventDefault();
    show(moves[event.key]);
  });
  rows.forEach((row, k) => row.addEventListener("click", () => show(k)));
  if (zoom && figure) {
    zoom.hidden = false;
    zoom.addEventListener("click", () => {
      const full = figure.classList.toggle("full");
      zoom.textContent = full ? "Fit the graph" : "Graph at full size";
    });
  }
  show(-1);
})();
"""


def page(title: str, heading: str, body: str, *, subtitle: str = "", stepper: str = "",
         graph: bool = False) -> str:
    """A whole HTML document: ``title`` is text (the tab's), ``heading``, ``subtitle`` and ``body`` are markup.

    ``stepper`` is the hint the stepper shows before the first step (no stepper when empty);
    ``graph`` adds the button that shows the graph at full size.
    """
    bar = ""
    if stepper:
        zoom = '<button type="button" id="zoom" hidden>Graph at full size</button>' if graph else ""
        bar = (
            f'<div class="stepper" id="stepper" hidden data-hint="{escape(stepper)}">'
            '<button type="button" class="prev" title="previous step (←)">← Previous</button>'
            '<button type="button" class="next" title="next step (→)">Next →</button>'
            '<span class="where"></span><span class="caption"></span>'
            f'{zoom}<span class="keys">keys: → ← Home End</span></div>'
        )
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="symprop">',
        '<link rel="icon" href="data:,">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        bar,
        f"<header><h1>{heading}</h1>{f'<p>{subtitle}</p>' if subtitle else ''}</header>",
        body,
        "<footer>Written by symprop: exact symbolic derivatives, step by step.</footer>",
        f"<script>{SCRIPT}</script>" if stepper else "",
        "</body>",
        "</html>",
    ]) + "\n"
