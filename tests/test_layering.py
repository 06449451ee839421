"""Data flows one way: the backward pass never imports the renderers or the CLI."""

import subprocess
import sys


def test_backward_pass_imports_no_renderer():
    code = (
        "import sys, symprop.backprop, symprop.graph, symprop.expr;"
        "bad = [m for m in sys.modules if m == 'rich' or m.startswith(('rich.', 'symprop.render', 'symprop.cli', 'numpy'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
