"""A sparse gradient check: a network with many parameters is checked on a seeded sample of each tensor.

As CS231n's ``grad_check_sparse``: past 10,000 parameter scalars finite
differences take 100 seeded random entries of each tensor (the report says so),
``--entries all`` takes every one, ``--entries N`` N of each; a check against
your own gradients compares every entry.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

import symprop
from symprop.check.entries import SPARSE_ABOVE, SPARSE_ENTRIES, choose_entries
from symprop.errors import SympropError
from symprop.nn import MLP, Network

RNG = np.random.default_rng(5)


def wide_network() -> Network:
    """[100, 101, 2]: 10,405 parameter scalars, past the bound, on 3 samples."""
    mlp = MLP([100, 101, 2], ["tanh", "softmax"], "cross_entropy")
    return Network(mlp, None, RNG.normal(size=(3, 100)), np.eye(2)[[0, 1, 1]], seed=1, init="xavier")


def test_a_network_with_many_parameters_is_checked_on_a_seeded_sample_of_each_tensor():
    net = wide_network()
    assert sum(p.size for p in net.params.values()) > SPARSE_ABOVE
    report = symprop.gradcheck(net)
    assert report.passed and report.sampled
    per = {name: [r.index for r in report.rows if r.name == name] for name in net.params}
    assert [len(v) for v in per.values()] == [100, 100, 100, 2]  # b2 has fewer than 100: all of it
    assert per["W1"] == sorted(per["W1"]) and len(set(per["W1"])) == SPARSE_ENTRIES  # distinct, in index order
    assert report.entries == {"checked": len(report.rows), "total": 10405, "per_tensor": SPARSE_ENTRIES}
    again = symprop.gradcheck(net)  # seeded: the same entries each run
    assert [r.index for r in again.rows] == [r.index for r in report.rows]
    assert "of 10,405 entries: a seeded random 100 of each parameter tensor" in " ".join(str(report).split())
    exact = net.exact_gradients()
    for row in report.rows:  # each checked entry holds the exact gradient at its own index
        assert row.symbolic == exact[row.name][row.index]


def test_every_entry_on_request_and_n_of_each_tensor():
    net = Network(MLP([3, 4, 2], "tanh", "mse"), None, RNG.normal(size=(2, 3)), RNG.normal(size=(2, 2)), seed=0)
    whole = symprop.gradcheck(net)  # a small network: every entry by default
    assert len(whole.rows) == 26 and not whole.sampled and "seeded" not in str(whole)
    three = symprop.gradcheck(net, entries=3)
    assert [sum(r.name == n for r in three.rows) for n in net.params] == [3, 3, 3, 2]
    assert three.sampled and three.entries["checked"] == 11
    assert len(symprop.gradcheck(net, entries="all").rows) == 26
    assert len(symprop.gradcheck(net, entries=100).rows) == 26  # no tensor has more: every entry


def test_a_wrong_gradient_in_a_sample_is_reported_with_the_checked_count():
    from symprop.check.compare import check_numeric
    from symprop.check.subjects import NetworkSubject

    subject = NetworkSubject(wide_network())
    subject.exact["W1"] = subject.exact["W1"] * 2  # as if the derivation had a factor 2 too many
    report = check_numeric(subject, eps=1e-5, rtol=1e-5, floor=1e-8)
    assert not report.passed and report.sampled and report.wrong_params == ["W1"]
    wrong = [f for f in report.findings if f.param == "W1"][0].message
    assert wrong.startswith("W1: ") and "of the 100 checked entries (of 10100)" in wrong
    assert "FAILED" in str(report) and "checked 302 of 10,405 entries" in str(report)
    chosen = choose_entries({name: array.shape for name, array in subject.values.items()})
    assert [r.index for r in report.rows if r.name == "W1"] == chosen.chosen["W1"]  # the seeded draw, as documented


def test_against_your_gradients_compares_every_entry():
    net = Network(MLP([3, 4, 2], "tanh", "mse"), None, RNG.normal(size=(2, 3)), RNG.normal(size=(2, 2)), seed=0)
    exact = net.exact_gradients()
    report = symprop.gradcheck(net, against=dict(exact, W2=exact["W2"] * 2))
    assert not report.passed and not report.sampled and len(report.rows) == 26
    assert report.entries == {"checked": 26, "total": 26, "per_tensor": None}
    assert "W2: 8 of 8 entries wrong" in report.findings[0].message


def test_P1_bad_entries_are_refused():
    net = wide_network()
    for bad in (0, -2, "some", 1.5, True):
        with pytest.raises(SympropError, match="entries"):
            symprop.gradcheck(net, entries=bad)
    with pytest.raises(SympropError, match="compares every entry"):
        symprop.gradcheck(net, against={}, entries="all")


def test_P1_the_command_line_says_how_many_entries_it_checked(tmp_path):
    net = wide_network()
    spec = tmp_path / "wide.json"
    spec.write_text(json.dumps({
        "network": {"layers": [100, 101, 2], "activation": ["tanh", "softmax"], "loss": "cross_entropy"},
        "params": {"seed": 1, "init": "xavier"},
        "data": {"x": net.x.tolist(), "y": net.y.tolist()},
    }))
    run = lambda *a: subprocess.run([sys.executable, "-m", "symprop", *a], capture_output=True, text=True, timeout=300)  # noqa: E731
    done = run("check", "--spec", str(spec), "--json")
    data = json.loads(done.stdout)
    assert done.returncode == 0 and data["passed"]
    assert data["entries"] == {"checked": 302, "total": 10405, "per_tensor": 100} and len(data["rows"]) == 302
    done = run("check", "--spec", str(spec), "--entries", "7")
    assert done.returncode == 0 and "checked 23 of 10,405 entries: a seeded random 7 of each" in done.stdout
    for bad in (["--entries", "none"], ["--entries", "0"], ["--entries", "5", "--against", f"{spec}:g"]):
        done = run("check", "--spec", str(spec), *bad)
        assert done.returncode == 2 and done.stderr.startswith("symprop: error: entries:"), bad
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
