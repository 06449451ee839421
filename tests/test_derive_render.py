"""``symprop derive`` in every format: text and rich (ᵀ, ⊙, shapes), Markdown, LaTeX that compiles, HTML, JSON.

The LaTeX fragment is compiled with pdflatex in an article and inside a Beamer
frame ``[allowframebreaks]``, each loading amsmath only; those tests skip (one
line saying why) only where pdflatex or Beamer is not installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from symprop.cli import main
from symprop.errors import SympropError
from symprop.derive import derive, derive_spec
from symprop.render.derive_tex import render_derive_html, render_derive_latex
from symprop.render.derive_text import render_derive_markdown, render_derive_rich, render_derive_text
from symprop.render.derive_view import formula_view, network_view
from symprop.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
FORMULA = ["-y.T*log(softmax(W*x + b)) + sum(relu(W*x)) + trace(A*X)", "--shapes", "W=3x2,x=2,b=3,y=3,A=2x3,X=3x2",
           "--wrt", "W,b,X", "--at",
           "W=[[1,2],[0,-1],[1,1]],x=[1,2],b=[0,1,-1],y=[0,1,0],A=[[1,0,1],[0,1,0]],X=[[1,2],[3,4],[5,6]]"]


@pytest.fixture(scope="module")
def views():
    formula = derive(FORMULA[0], FORMULA[2], wrt=FORMULA[4], at=FORMULA[6])
    network = derive_spec(load_spec(ROOT / "examples" / "xor.toml").network, sample=2)
    return formula_view(formula), network_view(network)


def test_text_shows_steps_identities_shapes_and_values(views):
    out = render_derive_text(views[0])
    assert "∂L/∂W (3×2) = ∂L/∂prod1·xᵀ" in out
    assert "by ∂(W·x)/∂W contracted with δ gives δ·xᵀ" in out
    assert "softmax Jacobian J = diag(a) - a·aᵀ" in out and "⊙" in out
    assert "by trace trick" in out and "∂L/∂X (3×2) = ∂L/∂trace1·Aᵀ" in out
    assert "∂L/∂prod1 (via sum1)" in out  # W*x feeds two intermediates: one row per branch, then the sum
    assert "Checked at the point given: every step equals" in out and "entries compared" in out
    ascii_ = render_derive_text(views[0], unicode=False)
    assert ascii_.isascii() and "dL/dW (3x2) = dL/dprod1*x^T" in ascii_


def test_network_text_is_per_layer(views):
    out = render_derive_text(views[1])
    for line in ["layer 2 (sigmoid)", "δ2 (1×1) = ∂L/∂a2 ⊙ a2 ⊙ (1 - a2)", "∂L/∂W2 (1×3) = δ2·a1ᵀ",
                 "∂L/∂a1 (3×1) = W2ᵀ·δ2", "δ1 (3×1) = ∂L/∂a1 ⊙ a1 ⊙ (𝟙 - a1)", "∂L/∂W1 (3×2) = δ1·xᵀ",
                 "∂L/∂x (2×1) = W1ᵀ·δ1", "values of sample 2 of 4", "equal Network.exact_gradients"]:
        assert line in out, line


def test_rich_is_the_text_in_colour(views):
    plain = render_derive_rich(views[0], color=False)
    assert plain.splitlines() == render_derive_text(views[0]).splitlines()
    coloured = render_derive_rich(views[0], color=True)
    assert "\x1b[" in coloured and "W·x" in coloured


def test_markdown_tables(views):
    out = render_derive_markdown(views[0])
    assert out.startswith("## L = ") and "| ∂L/∂W | 3×2 | `∂L/∂prod1·xᵀ`" in out
    assert "### Backward, right to left" in out and "`[[" in out


def test_html_is_one_self_contained_page(views):
    page = render_derive_html(views[0])
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"(src|href)\s*=|@import|url\(|<script|<link", page, flags=re.I)
    assert "∂L/∂W" in page and '<table class="m">' in page and "⊙" in page


def test_latex_uses_top_odot_and_bmatrix(views):
    tex = render_derive_latex(views[0])
    assert "^{\\top}" in tex and "\\odot" in tex and "\\begin{bmatrix}" in tex
    assert tex.isascii()  # pdflatex with amsmath only
    assert "\\frac{\\partial L}{\\partial W} &= \\frac{\\partial L}{\\partial \\mathrm{prod}_{1}} x^{\\top}" in tex


def _pdflatex() -> str:
    path = shutil.which("pdflatex")
    if path is None:
        pytest.skip("pdflatex is not installed (apt-get install texlive-latex-recommended texlive-latex-extra)")
    return path


DOCUMENTS = {
    "article": "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n\\input{derivation}\n\\end{document}\n",
    "beamer": "\\documentclass{beamer}\n\\usepackage{amsmath}\n\\begin{document}\n"
              "\\begin{frame}[allowframebreaks]{Derivation}\n\\input{derivation}\n\\end{frame}\n\\end{document}\n",
}


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("which", ["formula", "network"])
def test_latex_compiles(tmp_path, views, document, which):
    pdflatex = _pdflatex()
    if document == "beamer" and subprocess.run(["kpsewhich", "beamer.cls"], capture_output=True).returncode != 0:
        pytest.skip("the beamer class is not installed (apt-get install texlive-latex-recommended)")
    view = views[0] if which == "formula" else views[1]
    (tmp_path / "derivation.tex").write_text(render_derive_latex(view), encoding="ascii")
    (tmp_path / "main.tex").write_text(DOCUMENTS[document])
    done = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "main.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "main.pdf").stat().st_size > 1000


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "html", "json", "rich"])
def test_every_format_from_the_command_line(tmp_path, capsys, fmt):
    assert main(["derive", *FORMULA, "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert out
    if fmt == "json":
        assert set(json.loads(out)) >= {"gradient", "steps"}
    suffix = {"text": "txt", "markdown": "md", "latex": "tex", "html": "html", "json": "json", "rich": "txt"}[fmt]
    target = tmp_path / f"out.{suffix}"
    assert main(["derive", "--spec", str(ROOT / "examples" / "mazur_2_2_2.toml"), "--output", str(target)]) == 0
    written = target.read_text(encoding="utf-8")
    start = {"txt": "Network [2, 2, 2]: ", "md": "## Network [2, 2, 2]", "tex": "% symprop derive: ", "html": "<!DOCTYPE html>",
             "json": "{"}[suffix]
    assert written.startswith(start), written[:80]  # the suffix picks the format, from the formats table


def test_derive_formats_come_from_the_formats_table():
    from symprop.cli import build_parser
    from symprop.render.formats import FORMATS, formats_for, renderer

    parser = build_parser()
    derive_ = {a.dest: a for a in parser._subparsers._group_actions[0].choices["derive"]._actions}
    assert derive_["format"].choices == [f.name for f in formats_for("derivation")]
    assert "svg" in FORMATS and "svg" not in derive_["format"].choices
    with pytest.raises(SympropError, match="the svg format cannot show a derivation; use one of: rich, text"):
        renderer("svg", "derivation")


def test_network_json(capsys):
    assert main(["derive", "--spec", str(ROOT / "examples" / "mazur_2_2_2.toml"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    layer2 = data["layers"][1]
    assert layer2["dL_dW"]["compact"] == "delta2*a1.T" and layer2["dL_db"]["compact"] == "OneMatrix(1, 2)*delta2"
    assert round(layer2["dL_dW"]["value"][0][0], 9) == 0.082167041  # Mazur's dE/dw5
    assert round(data["values"]["W1"][0][0], 9) == 0.000438568  # and dE/dw1
    assert data["check"]["passed"] and data["check"]["exact_gradients_max_error"] < 1e-12
    assert set(data["gradient"]) == {"W1", "b1", "W2", "b2", "x"}


def test_matrix_view_shows_the_derived_formulas(capsys):
    assert main(["explain", "--spec", str(ROOT / "examples" / "xor.toml"), "--view", "matrix", "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert "delta2 = dL/dz2 = dL/da2 ⊙ a2 ⊙ (1 - a2), column by column" in out
    assert "dL/dW1 = delta1·a0^T, summed over the samples" in out and "dL/da1 = W2^T·delta2" in out
    assert main(["explain", "--spec", str(ROOT / "examples" / "xor.toml"), "--view", "matrix", "--format", "json"]) == 0
    formulas = json.loads(capsys.readouterr().out)["layers"][1]["formulas"]
    assert formulas == {"delta": "HadamardProduct(dL_da2, a2, -a2 + OneMatrix(1, 1))", "dL_dW": "delta2*a1.T",
                        "dL_db": "delta2", "dL_da_prev": "W2.T*delta2"}
