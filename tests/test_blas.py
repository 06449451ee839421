"""A small network's compiled step runs on one OpenBLAS thread, and gives the thread count back."""

import numpy as np
import pytest

import symprop
from symprop import blas
from symprop.nn import MLP

CONTROLS = blas.openblas_threads()
needs_openblas = pytest.mark.skipif(CONTROLS is None, reason="numpy uses a BLAS other than OpenBLAS")


@pytest.fixture
def two_threads():
    get, put = CONTROLS
    before = get()
    put(2)
    yield get
    put(before)


def _seen_by(function_threads, rows, widest):
    seen = []

    def step(params, x):
        seen.append(function_threads())
        return "done"

    assert blas.blas_threads_by_size(step, widest)(None, np.zeros((rows, 1))) == "done"
    return seen[0]


@needs_openblas
def test_a_small_product_runs_on_one_thread_and_the_count_comes_back(two_threads):
    get = two_threads
    assert _seen_by(get, 256, 64 * 32) == 1  # 5e5 multiply-adds: one thread
    assert get() == 2
    assert _seen_by(get, 64, 784 * 100) == 2  # 5e6: OpenBLAS's threads may pay, left alone
    assert _seen_by(get, 4, 3 * 2) == 2  # OpenBLAS uses one thread there anyway: nothing to set


@needs_openblas
def test_the_count_comes_back_when_the_step_raises(two_threads):
    def failing(params, x):
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        blas.blas_threads_by_size(failing, 64 * 32)(None, np.zeros((256, 1)))
    assert two_threads() == 2


@needs_openblas
def test_one_thread_or_two_the_gradients_are_the_same_bits(two_threads, monkeypatch):
    mlp = MLP([64, 32, 10], ["tanh", "softmax"], "cross_entropy")
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(256, 64)), np.eye(10)[rng.integers(0, 10, 256)]
    compiled = symprop.compile(mlp)
    params = mlp.init_params(0, "xavier")
    one = compiled.loss_and_grads(params, x, y)
    monkeypatch.setattr(blas, "SMALL", 0)  # now every size keeps OpenBLAS's two threads
    two = compiled.loss_and_grads(params, x, y)
    assert one[0] == two[0] and all(np.array_equal(one[1][k], two[1][k]) for k in one[1])


def test_without_openblas_the_function_is_left_as_it_is(monkeypatch):
    monkeypatch.setattr(blas, "_controls", None)

    def step(params, x):
        return 1

    assert blas.blas_threads_by_size(step, 10) is step


def test_a_big_step_keeps_whichever_count_was_faster():
    faster = blas._Faster()
    seconds = {False: 2.0, True: 1.0}  # on OpenBLAS's threads, on one thread: a busy machine

    def run(calls):
        chosen = []
        for _ in range(calls):
            one = faster.pick()
            faster.record(one, seconds[one])
            chosen.append(one)
        return chosen

    chosen = run(300)
    assert chosen[:2] == [False, True]  # each timed once, then the faster kept
    assert chosen[100:].count(False) <= 3  # the threads timed again ever more rarely
    seconds[False] = 0.5  # the machine went idle: the threads win when next timed
    chosen = run(1100)
    assert chosen[-100:].count(True) <= 1
