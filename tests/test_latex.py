"""LaTeX that compiles: every README LaTeX example, the 2-2-2 net and CS231n's staged example, with pdflatex,
in an article and inside a Beamer frame, with no line more than a few points too wide.

A fragment is compiled twice, ``\\input`` into an article that loads only
``amsmath`` and into ``\\begin{frame}[allowframebreaks]`` of a Beamer
document; a ``--standalone`` document is compiled as it is. A page of each
kind is kept as a picture in ``.artifacts/`` (with ``pdftoppm``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import sympy

from symprop import Graph, backward
from symprop.cli import main
from symprop.render.latex import latex_label, render_latex
from symprop.render.tex_layout import align_rows, breakable, strip_marks, tex_width

from browser import artifacts_dir
import test_readme
from test_readme import BLOCKS, _commands, _run

workdir = test_readme.workdir  # the README's fixture: a folder with the examples

ROOT = Path(__file__).resolve().parent.parent
PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed (apt-get install "
                                    "texlive-latex-recommended)")
#: An overfull line of at most this many points is invisible in print; more is a line off the page.
SLACK_PT = 3.0

ARTICLE = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n\\input{fragment}\n\\end{document}\n"
BEAMER = ("\\documentclass{beamer}\n\\usepackage{amsmath}\n\\begin{document}\n"
          "\\begin{frame}[allowframebreaks]{symprop}\n\\input{fragment}\n\\end{frame}\n\\end{document}\n")


def compile_tex(folder: Path, name: str, source: str) -> tuple[Path, list[float]]:
    """pdflatex ``source`` in ``folder``; the PDF and how far each overfull line runs over (points)."""
    (folder / f"{name}.tex").write_text(source, encoding="utf-8")
    done = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    log = (folder / f"{name}.log").read_text(encoding="latin-1")
    assert done.returncode == 0, f"{name}: " + "\n".join(line for line in log.splitlines() if line.startswith("!"))[:2000]
    over = [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    return folder / f"{name}.pdf", over


def compile_both(folder: Path, tex: str) -> dict[str, tuple[Path, list[float]]]:
    """A document as it is, or a fragment in an article and in a Beamer frame."""
    folder.mkdir(parents=True, exist_ok=True)
    if "\\documentclass" in tex:
        return {"document": compile_tex(folder, "document", tex)}
    (folder / "fragment.tex").write_text(tex, encoding="utf-8")
    return {"article": compile_tex(folder, "article", ARTICLE), "beamer": compile_tex(folder, "beamer", BEAMER)}


def keep_picture(pdf: Path, name: str, page: int = 1) -> None:
    """A page of a PDF as a PNG in the artifacts folder (when pdftoppm is installed)."""
    if shutil.which("pdftoppm"):
        target = artifacts_dir() / name
        subprocess.run(["pdftoppm", "-png", "-r", "90", "-f", str(page), "-l", str(page), "-singlefile", str(pdf),
                        str(target.with_suffix(""))], check=True, timeout=120)  # pdftoppm adds .png


def _latex_lines() -> list[str]:
    """Every README command that writes LaTeX (``--format latex`` or an ``--output`` ending in .tex)."""
    lines = _commands() + [body.splitlines()[0][2:] for lang, body in BLOCKS
                           if lang == "text" and body.startswith("$ symprop ")]
    found = [line.split(" | ")[0] for line in lines if "--format latex" in line or re.search(r"--output \S+\.tex", line)]
    return list(dict.fromkeys(found))


@needs_pdflatex
@pytest.mark.parametrize("line", _latex_lines())
def test_every_readme_latex_example_compiles_in_an_article_and_a_beamer_frame(line, workdir, tmp_path):
    done = _run(line, workdir)
    assert done.returncode == 0, done.stderr[-2000:]
    output = re.search(r"--output (\S+\.tex)", line)
    tex = (workdir / output.group(1)).read_text(encoding="utf-8") if output else done.stdout
    for kind, (pdf, over) in compile_both(tmp_path / "tex", tex).items():
        assert max(over, default=0) <= SLACK_PT, f"{line} ({kind}): lines too wide by {over} pt"


def _staged_pass():
    """CS231n's "staged computation", f = (x + σ(y)) / (σ(x) + (x + y)²), at integers (x = 3, y = -4)."""
    return backward(Graph.trace("(x + sigmoid(y))/(sigmoid(x) + (x + y)**2)"), {"x": 3, "y": -4})


@needs_pdflatex
@pytest.mark.parametrize("name", ["mazur", "mazur-matrix", "staged", "xor-batch-matrix"])
def test_long_gradients_break_to_the_page_and_the_slide(name, tmp_path, capsys):
    if name == "staged":
        tex = render_latex(_staged_pass(), expanded=True, lr=sympy.Rational(1, 10))
    else:
        spec = "xor" if name.startswith("xor") else "mazur_2_2_2"
        args = ["explain", "--spec", str(ROOT / "examples" / f"{spec}.toml"), "--format", "latex", "--lr", "0.5"]
        if name.endswith("matrix"):
            args = args[:-2] + ["--view", "matrix"]
        assert main(args) == 0
        tex = capsys.readouterr().out
    results = compile_both(tmp_path / name, tex)
    for kind, (pdf, over) in results.items():
        assert max(over, default=0) <= SLACK_PT, f"{name} ({kind}): lines too wide by {over} pt"
    if name in ("mazur", "mazur-matrix", "staged"):
        keep_picture(results["beamer"][0], f"latex-{name}-beamer.png", page=2)
        keep_picture(results["article"][0], f"latex-{name}-article.png")


@needs_pdflatex
@pytest.mark.parametrize("kind", ["article", "beamer"])
def test_standalone_writes_a_document_ready_to_compile(kind, tmp_path, capsys):
    out = tmp_path / "walk.tex"
    assert main(["explain", "--spec", str(ROOT / "examples" / "mazur_2_2_2.toml"), "--standalone", kind,
                 "--output", str(out)]) == 0
    tex = out.read_text(encoding="utf-8")
    assert tex.startswith(f"\\documentclass{{{kind}}}\n\\usepackage{{amsmath}}\n") and tex.endswith("\\end{document}\n")
    (pdf, over), = compile_both(tmp_path / "doc", tex).values()
    assert max(over, default=0) <= SLACK_PT
    keep_picture(pdf, f"latex-standalone-{kind}.png")


def test_F1_standalone_is_for_latex_only(capsys):
    assert main(["demo", "--format", "html", "--standalone"]) == 2
    assert capsys.readouterr().err == ("symprop: error: --standalone is for --format latex (a .tex file), not html; "
                                       "an HTML page is always a whole document\n")
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--format", "latex", "--standalone", "letter"])
    assert exit_.value.code == 2 and "invalid choice: 'letter'" in capsys.readouterr().err


def test_the_fragment_reads_in_beamer_and_in_plain_pdflatex():
    tex = render_latex(_staged_pass(), expanded=True)
    assert "\\paragraph" not in tex and "\\section" not in tex  # Beamer has no \paragraph
    assert tex.isascii()  # pdflatex reads no ∂ or σ without packages
    assert "--expanded" not in tex and "-{}-" not in tex  # no command-line advice in a document
    assert r"\mathrm{sigmoid}_{1}" in tex and "sigmoid_{1}" not in tex.replace(r"\mathrm{sigmoid}_{1}", "")
    assert "\\tag*{[quotient]}" in tex


def test_a_networks_leaves_are_listed_in_reading_order(capsys):
    assert main(["explain", "--spec", str(ROOT / "examples" / "mazur_2_2_2.toml"), "--format", "latex"]) == 0
    leaves = re.search(r"^At (.*)\.$", capsys.readouterr().out, re.M).group(1)
    names = re.findall(r"\$([^$]*?) = ", leaves)
    assert names == ["{x}_{0}", "{x}_{1}", "{W}^{(1)}_{0,0}", "{W}^{(1)}_{0,1}", "{W}^{(1)}_{1,0}", "{W}^{(1)}_{1,1}",
                     "b_{1}", "{W}^{(2)}_{0,0}", "{W}^{(2)}_{0,1}", "{W}^{(2)}_{1,0}", "{W}^{(2)}_{1,1}", "b_{2}",
                     "{y}_{0}", "{y}_{1}"]


def test_a_long_sum_breaks_before_its_terms_and_parentheses_close_on_each_line():
    a = sympy.symbols("a0:12")
    long_sum = sympy.Symbol("w") * sum(a)
    rows = align_rows([("L", [breakable(long_sum), "5"])], width=16)
    assert len(rows) > 2
    assert rows[0].startswith("L &= w \\left(a_{0} + ") and rows[0].endswith("\\right.")
    assert all(row.startswith("&\\quad \\left. +") for row in rows[1:-1])
    assert rows[-1].endswith("\\right) = 5")
    assert all(tex_width(row) <= 16 for row in rows)
    assert strip_marks(breakable(long_sum)) == sympy.latex(long_sum)


def test_width_estimates_are_within_reach_of_tex():
    # measured with pdflatex (\settowidth in display math, 10pt): 20.6pt and 76.2pt
    assert 1.6 < tex_width(latex_label("add1")) < 2.4
    assert 6.8 < tex_width(r"\text{constant multiple}") < 8.6


def _words_pass():
    """A product of products: the gradients are products of node names of several letters."""
    return backward(Graph.trace("L = ((a + b)*(c + d))**2"), {"a": 1, "b": 2, "c": 3, "d": 4})


def test_a_product_of_names_of_several_letters_takes_dots_and_2x_stays_2x():
    from symprop.render.html import render_html
    from symprop.render.latex import latex_expr

    tex = render_latex(_words_pass(), expanded=True)
    assert r"2 \cdot \mathrm{add}_{2} \cdot \mathrm{mul}_{1}" in tex  # dL/dadd1's compact form
    assert not re.search(r"\\mathrm\{\w+\}_\{\d\} \\mathrm", tex)  # never two names side by side
    add1, add2, x, y, w0 = sympy.symbols("add1 add2 x y w0")
    assert latex_expr(2 * add1 * add2) == r"2 \cdot \mathrm{add}_{1} \cdot \mathrm{add}_{2}"
    assert latex_expr(2 * x * y) == "2 x y" and latex_expr(2 * w0 * x) == "2 w_{0} x"
    assert latex_expr(add1 * w0 / add2) == r"\frac{\mathrm{add}_{1} \cdot w_{0}}{\mathrm{add}_{2}}"
    page = render_html(_words_pass(), graphviz=False)
    names = r"<msub><mi>(?:add|mul)</mi><mrow><mn>\d</mn></mrow></msub>"
    assert re.search(names + "<mo[^>]*>&#xB7;</mo>" + names, page)
    assert not re.search(names + "<mo[^>]*>&#x2062;</mo>" + names, page)  # no invisible times between names


@needs_pdflatex
def test_dotted_products_compile(tmp_path):
    results = compile_both(tmp_path / "words", render_latex(_words_pass(), expanded=True))
    for kind, (pdf, over) in results.items():
        assert max(over, default=0) <= SLACK_PT, f"{kind}: lines too wide by {over} pt"
