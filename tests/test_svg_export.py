"""``--format svg``: rich's picture of the walkthrough, right outside browsers too, titled by its command."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from symprop.cli import main

SVG = "{http://www.w3.org/2000/svg}"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


def picture(tmp_path, *args: str) -> ET.Element:
    out = tmp_path / "walk.svg"
    assert main([*args, "--output", str(out)]) == 0
    return ET.fromstring(out.read_text(encoding="utf-8"))


def title(root: ET.Element) -> str:
    """The window's title: the one text rich centres."""
    return next(t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "middle").replace("\xa0", " ")


def test_spaces_are_kept_by_every_renderer_and_the_title_names_the_command(tmp_path):
    root = picture(tmp_path, "demo")
    # librsvg (rsvg-convert) collapses runs of spaces unless the document preserves them
    assert root.get(XML_SPACE) == "preserve"
    assert title(root) == "symprop demo"
    # every run of text sits at its own x and fills its own width: columns line up without the font's help
    runs = [t for t in root.iter(f"{SVG}text") if t.get("textLength") and (t.text or "").strip()]
    widths = {round(float(t.get("textLength")) / len(t.text), 3) for t in runs}
    assert len(widths) == 1, widths  # one cell width: a right-aligned "   -2" keeps its three spaces
    assert any(t.text == "\xa0\xa0\xa0-2" for t in runs)
    assert title(picture(tmp_path, "explain", "w*x", "--at", "w=1,x=2", "--format", "svg")) == "symprop explain w*x"
    assert title(picture(tmp_path, "explain", "--spec", "examples/xor.toml", "--sample", "0")) == (
        "symprop explain --spec xor.toml")


def test_no_font_is_fetched_from_the_network(tmp_path):
    out = tmp_path / "walk.svg"
    assert main(["demo", "--output", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "url(" not in text.split("</style>")[0] and 'src: local("FiraCode-Regular");' in text


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="librsvg's rsvg-convert is not installed")
def test_librsvg_renders_it(tmp_path):
    out = tmp_path / "walk.svg"
    assert main(["demo", "--output", str(out)]) == 0
    done = subprocess.run(["rsvg-convert", str(out)], capture_output=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith(b"\x89PNG") and done.stderr == b""
