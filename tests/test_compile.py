"""The compiled numpy gradients equal the exact symbolic ones, and they are stable."""

import warnings

import numpy as np
import pytest
import sympy

import symprop
from symprop.compiler import output_delta, softmax_p
from symprop.numpy_code import HELPERS, NARROW
from symprop.nn import ACTIVATIONS, LOSSES, MLP, Network, Sequential, get_activation, loss_numpy
from symprop.nn.activations import softmax_jacobian

ELEMENTWISE = [name for name, activation in ACTIVATIONS.items() if activation.elementwise]
SQUARED = ["half_squared_error", "squared_error", "mse"]
PAIRS = [(out, loss) for out in ELEMENTWISE for loss in [*SQUARED, "binary_cross_entropy"]]
PAIRS += [("softmax", loss) for loss in LOSSES]
X = np.array([[0.3, -0.7], [1.1, 0.4], [-0.5, 0.9]])


def targets(out: str, loss: str, width: int = 2) -> np.ndarray:
    if loss == "cross_entropy":
        return np.eye(width)[[0, 1, 1]]
    return np.array([[0.2, 0.9], [0.7, 0.1], [0.4, 0.6]])


def params_for(mlp: MLP, seed: int = 1) -> dict:
    """Parameters away from relu's kink; for BCE the outputs stay inside (0, 1)."""
    params = mlp.init_params(seed)
    if mlp.loss == "binary_cross_entropy" and mlp.activations[-1] not in ("sigmoid", "softmax"):
        params["W2"] = 0.1 * params["W2"]
        params["b2"] = np.full_like(params["b2"], 0.4)
    return params


@pytest.mark.parametrize("out,loss", PAIRS, ids=[f"{o}-{l}" for o, l in PAIRS])
def test_compiled_gradients_equal_the_exact_backward_pass(out, loss):
    hidden = ELEMENTWISE[PAIRS.index((out, loss)) % len(ELEMENTWISE)]
    mlp = MLP([2, 3, 2], [hidden, out], loss)
    params = params_for(mlp)
    y = targets(out, loss)
    network = Network(mlp, params, X, y)
    exact = network.exact_gradients(scalar=True)  # node by node, not the compiled code itself
    value, grads = symprop.compile(mlp).loss_and_grads(network.params, X, y)
    assert value == pytest.approx(float(network.backward().loss), rel=1e-12)
    assert list(grads) == list(exact)
    for name in exact:
        assert grads[name].shape == exact[name].shape
        np.testing.assert_allclose(grads[name], exact[name], rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("hidden", ELEMENTWISE)
@pytest.mark.parametrize("bias,reduction", [("neuron", "mean"), ("layer", "sum"), ("none", "mean")])
def test_every_hidden_activation_and_bias_mode(hidden, bias, reduction):
    mlp = MLP([2, 3, 2, 2], [hidden, hidden, "sigmoid"], "binary_cross_entropy", reduction, bias)
    params = mlp.init_params(3)
    y = targets("sigmoid", "binary_cross_entropy")
    network = Network(mlp, params, X, y)
    exact = network.exact_gradients(scalar=True)
    _, grads = symprop.compile(mlp).loss_and_grads(network.params, X, y)
    for name in exact:
        np.testing.assert_allclose(grads[name], exact[name], rtol=1e-10, atol=1e-13, err_msg=name)


def central_differences(f, params, x, y, h=1e-5):
    numeric = {}
    for name, p in params.items():
        grad = np.zeros_like(p)
        for index in np.ndindex(*p.shape):
            up = {k: v.copy() for k, v in params.items()}
            down = {k: v.copy() for k, v in params.items()}
            up[name][index] += h
            down[name][index] -= h
            grad[index] = (f(up, x, y)[0] - f(down, x, y)[0]) / (2 * h)
        numeric[name] = grad
    return numeric


@pytest.mark.parametrize("out,loss", [("sigmoid", "half_squared_error"), ("softmax", "cross_entropy"),
                                      ("tanh", "mse"), ("softplus", "binary_cross_entropy")])
def test_compiled_gradients_match_finite_differences(out, loss):
    mlp = MLP([2, 4, 2], ["tanh", out], loss)
    params = params_for(mlp, seed=5)
    y = targets(out, loss)
    f = symprop.compile(mlp).loss_and_grads
    _, grads = f(params, X, y)
    numeric = central_differences(f, params, X, y)
    for name in grads:
        np.testing.assert_allclose(grads[name], numeric[name], rtol=1e-6, atol=1e-9, err_msg=name)


def test_the_compiled_loss_equals_the_numpy_forward_pass():
    for out, loss in PAIRS:
        mlp = MLP([2, 3, 2], ["relu", out], loss)
        params = params_for(mlp)
        y = targets(out, loss)
        assert symprop.compile(mlp).loss(params, X, y) == pytest.approx(loss_numpy(mlp, params, X, y), rel=1e-12)


# -- the derivations -------------------------------------------------------------


def test_derivatives_come_from_sympy_diff_through_the_output():
    a, y = sympy.symbols("a y", real=True)
    assert get_activation("sigmoid").derivative() == a * (1 - a)
    assert get_activation("tanh").derivative() == 1 - a**2
    assert get_activation("identity").derivative() == 1
    assert output_delta("sigmoid", "binary_cross_entropy", 1).result == a - y
    assert output_delta("identity", "half_squared_error", 1).result == a - y
    # softmax: the Jacobian from diff, and cross-entropy's P = a*dl/da = -y, so dL/dz = a*sum(y) - y
    outputs, jac = softmax_jacobian(3)
    assert jac[0, 0] == outputs[0] - outputs[0] ** 2
    assert softmax_p("cross_entropy", 3).result == -y


def test_source_is_readable_python_from_the_derived_formulas():
    compiled = symprop.compile(MLP([2, 3, 1], "sigmoid", "half_squared_error", "sum"))
    src = compiled.source
    assert "def loss_and_grads(params, x, y):" in src and "def forward(params, x):" in src
    assert "D2 = A2*(1 - A2)*(A2 - Y)" in src
    assert "D1 *= A1*(1 - A1)" in src
    assert "gW1 = (X.T @ D1).T" in src  # delta^T a_prev, as the transpose of a_prev^T delta
    compile(src, "<test>", "exec")  # valid Python on its own
    softmax = symprop.compile(MLP([2, 5, 3], ["relu", "softmax"], "cross_entropy")).source
    assert "MAX2 = Z2.T.copy().max(axis=0)[:, None]" in softmax and "Z2 = Z2 - MAX2" in softmax
    assert "logA2 = Z2 - numpy.log(T2)" in softmax
    assert "numpy.log(A2)" not in softmax


def test_integer_inputs_are_cast_to_float64():
    mlp = MLP([2, 3, 1], "tanh", "squared_error")
    params = mlp.init_params(0)
    xi = np.array([[40, 2], [3, 1]], dtype=np.int64)
    yi = np.array([[1], [0]], dtype=np.int64)
    f = symprop.compile(mlp).loss_and_grads
    loss_i, grads_i = f(params, xi, yi)
    loss_f, grads_f = f(params, xi.astype(float), yi.astype(float))
    assert loss_i == loss_f and all(g.dtype == np.float64 for g in grads_i.values())


# -- stability ------------------------------------------------------------------


@pytest.mark.parametrize("out,loss", [("sigmoid", "binary_cross_entropy"), ("sigmoid", "half_squared_error"),
                                      ("softmax", "cross_entropy"), ("softplus", "mse"),
                                      ("identity", "binary_cross_entropy"), ("softmax", "binary_cross_entropy")])
@pytest.mark.parametrize("scale", [1e3, -1e3, 1e6])
def test_large_logits_raise_no_warning_and_give_no_nan(out, loss, scale):
    mlp = MLP([2, 3, 2], ["sigmoid", out], loss)
    params = mlp.init_params(2)
    params["W2"] = scale * np.array([[1.0, -1.0, 0.5], [-1.0, 1.0, -0.5]])
    y = targets(out, loss)
    compiled = symprop.compile(mlp)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        value, grads = compiled.loss_and_grads(params, X, y)
        compiled.forward(params, X)
    assert np.isfinite(value)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_sigmoid_bce_from_the_logits_is_exact_far_out():
    mlp = MLP([1, 1], "sigmoid", "binary_cross_entropy", "sum")
    compiled = symprop.compile(mlp)
    params = {"W1": np.array([[1.0]]), "b1": np.array([0.0])}
    value, grads = compiled.loss_and_grads(params, [[-800.0]], [[1.0]])
    assert value == pytest.approx(800.0)  # -log(sigmoid(-800)) = 800, not log(0)
    assert grads["W1"][0, 0] == pytest.approx(800.0)  # (a - y)*x = (0 - 1)*(-800)


def test_the_compiled_tanh_is_within_two_units_in_the_last_place():
    import mpmath

    mlp = MLP([1, 1], "tanh", "half_squared_error", "sum", bias="none")  # no + 0.0 to turn -0.0 into 0.0
    compiled = symprop.compile(mlp)
    one = {"W1": np.ones((1, 1))}
    assert "A1 = _symprop_tanh(Z1)" in compiled.source  # through expm1: numpy's float64 tanh is scalar libm
    rng = np.random.default_rng(5)
    z = np.concatenate([rng.standard_normal(400) * scale for scale in (1e-12, 1e-5, 1e-2, 0.3, 1.0, 4.0, 25.0)])
    a = compiled.forward(one, z[:, None])[:, 0]
    exact = np.array([float(mpmath.tanh(mpmath.mpf(float(v)))) for v in z])
    units = np.abs(a - exact) / np.spacing(np.abs(exact))
    assert units.max() <= 2, z[np.argmax(units)]
    np.testing.assert_allclose(a, np.tanh(z), rtol=5e-16, atol=0)
    # the ends and the signs, in the helper the source defines (a matrix product turns -0.0 into 0.0)
    namespace = {"numpy": np}
    exec(HELPERS["_symprop_tanh"], namespace)
    ends = np.array([0.0, -0.0, np.inf, -np.inf, 800.0, -800.0, 1e-320, -1e-320])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = namespace["_symprop_tanh"](ends)
    np.testing.assert_array_equal(a, [0.0, -0.0, 1.0, -1.0, 1.0, -1.0, 1e-320, -1e-320])
    assert list(np.signbit(a[:2])) == [False, True]
    assert np.isnan(namespace["_symprop_tanh"](np.array([np.nan]))[0])


def test_loss_and_grads_into_writes_the_weight_products_into_the_arrays_given():
    """The training loop's variant: the same bits, each weight gradient a view of the array given for it."""
    net = Sequential(inputs=3, layers=[{"linear": 5}, "relu", {"linear": 4}, "tanh", {"linear": 2}, "softmax"],
                     loss="cross_entropy", weight_decay=0.01)  # gW += λ·W then adds into the array given
    compiled = symprop.compile(net)
    params = compiled.mlp.init_params(6, "he")
    x, y = np.random.default_rng(6).normal(size=(7, 3)), np.eye(2)[[0, 1, 1, 0, 1, 0, 0]]
    loss, grads = compiled.loss_and_grads(params, x, y)
    work = {"W1": np.full((3, 5), np.nan), "W3": np.full((4, 2), np.nan)}  # no array for W2: a new one
    loss_into, into = compiled.loss_and_grads_into(params, x, y, work)
    assert loss_into == loss and all(np.array_equal(into[k], grads[k]) for k in grads)
    assert into["W1"].base is work["W1"] and into["W3"].base is work["W3"]
    assert not any(np.shares_memory(into["W2"], array) for array in work.values())
    assert "work.get" not in compiled.source and "gW1 += 0.01*W1" in compiled.source  # the source shown is the plain one


def test_softmax_cross_entropy_at_huge_logits():
    mlp = MLP([1, 3], "softmax", "cross_entropy", "sum")
    params = {"W1": np.array([[1000.0], [0.0], [-1000.0]]), "b1": np.zeros(3)}
    value, grads = symprop.compile(mlp).loss_and_grads(params, [[1.0]], [[0.0, 0.0, 1.0]])
    assert value == pytest.approx(2000.0)
    np.testing.assert_allclose(grads["b1"], [1.0, 0.0, -1.0], atol=1e-300)


@pytest.mark.parametrize("classes", [3, NARROW + 8])
def test_a_narrow_and_a_wide_softmax_shift_by_each_rows_maximum(classes):
    mlp = MLP([2, 4, classes], ["tanh", "softmax"], "cross_entropy")
    compiled = symprop.compile(mlp)
    narrow = classes < NARROW  # a transposed copy for a few columns, numpy's row maximum for many
    assert ("MAX2 = Z2.T.copy().max(axis=0)[:, None]" in compiled.source) is narrow
    assert ("MAX2 = Z2.max(axis=1, keepdims=True)" in compiled.source) is not narrow
    params = mlp.init_params(2, "xavier")
    params["b2"] = np.linspace(-20.0, 20.0, classes)
    y = np.eye(classes)[[0, classes - 1, 1]]
    value, grads = compiled.loss_and_grads(params, X, y)
    assert value == pytest.approx(loss_numpy(mlp, params, X, y), rel=1e-12)
    exact = Network(mlp, params, X, y).exact_gradients()
    for name in exact:
        np.testing.assert_allclose(grads[name], exact[name], rtol=1e-10, atol=1e-13, err_msg=name)
    # far out, each row's maximum keeps exp finite: all the probability on the last class
    far = {"W1": np.zeros((classes, 1)), "b1": np.linspace(-1000.0, 1000.0, classes)}
    value, grads = symprop.compile(MLP([1, classes], "softmax", "cross_entropy", "sum")).loss_and_grads(
        far, [[1.0], [2.0]], np.eye(classes)[[0, 0]])
    probabilities = np.exp(far["b1"] - 1000.0)  # the last class's share is 1 to 1e-22 or better
    assert value == pytest.approx(2 * (1000.0 - (-1000.0)))  # twice -log(probability of class 0)
    np.testing.assert_allclose(grads["b1"], 2 * (probabilities - np.eye(classes)[0]), rtol=1e-12, atol=1e-300)


def test_the_source_sums_with_products_of_ones_and_the_loss_as_a_dot_product():
    src = symprop.compile(MLP([2, 5, 3], ["relu", "softmax"], "cross_entropy")).source
    assert "ONE = numpy.ones(X.shape[0])" in src and "gb1 = ONE @ D1" in src and "gb2 = ONE @ D2" in src
    assert "T2 = E2 @ numpy.ones((3, 1))" in src and "S2 = P2 @ numpy.ones((3, 1))" in src
    assert "loss = -numpy.vdot(logA2, Y)/X.shape[0]" in src
    assert "D2 = P2 - A2*S2" in src and "D2 /= X.shape[0]" in src  # positive terms first, the mean in place
    bce = symprop.compile(MLP([2, 3, 1], "sigmoid", "binary_cross_entropy")).source
    assert ("loss = (numpy.vdot(Y, numpy.logaddexp(0, -Z2)) + numpy.vdot(1 - Y, numpy.logaddexp(0, Z2)))"
            "/X.shape[0]") in bce


def test_the_compiled_code_leaves_its_inputs_alone():
    for out, loss in PAIRS:
        mlp = MLP([2, 3, 2], ["relu", out], loss)
        params, y = params_for(mlp), targets(out, loss)
        before = ({k: v.copy() for k, v in params.items()}, X.copy(), y.copy())
        compiled = symprop.compile(mlp)
        compiled.loss_and_grads(params, X, y)
        compiled.loss_grads_and_adjoints(params, X, y)
        compiled.forward(params, X)
        assert all(np.array_equal(params[k], before[0][k]) for k in params), (out, loss)
        assert np.array_equal(X, before[1]) and np.array_equal(y, before[2]), (out, loss)


def test_adjoints_keep_a_dropout_mask_apart_from_the_softmax_shift():
    arch = Sequential(2, [{"linear": 3}, {"dropout": 0.5}, "softmax"], loss="cross_entropy")
    compiled = symprop.compile(arch)
    params = arch.init_params(0, "xavier")
    masks = {"mask1": np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])}
    y = np.eye(3)[[0, 1, 2]]
    _, grads = compiled.loss_and_grads(params, X, y, masks)
    _, again, adjoints = compiled.loss_grads_and_adjoints(params, X, y, masks)
    numeric = central_differences(lambda p, x, t: compiled.loss_and_grads(p, x, t, masks), params, X, y)
    for name in grads:
        np.testing.assert_allclose(again[name], grads[name], rtol=1e-13, atol=1e-15, err_msg=name)
        np.testing.assert_allclose(grads[name], numeric[name], rtol=1e-6, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(adjoints["z1"], adjoints["drop1"] * masks["mask1"] * 2.0)
    # the exact gradients (evaluated through the adjoints) agree, so gradcheck passes such a net
    network = Network(arch, params, X, y, masks=masks)
    for name, exact in network.exact_gradients().items():
        np.testing.assert_allclose(exact, grads[name], rtol=1e-10, atol=1e-13, err_msg=name)
    assert symprop.gradcheck(network).passed


def test_the_source_uses_only_internal_names():
    import ast
    import re

    for out, loss in PAIRS:
        mlp = MLP([2, 3, 2], ["leaky_relu", out], loss, slope=0.2)
        tree = ast.parse(symprop.compile(mlp).source)
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in n.args}
        internal = re.compile(r"^(numpy|params|x|y|t|loss|X|Y|ONE|[WbZAEDTPS][0-9]+|MAX[0-9]+|logA[0-9]+|A[0-9]+c|g[Wb][0-9]+"
                              r"|_symprop_(sigmoid|tanh|heaviside))$")
        assert all(internal.match(name) for name in names), sorted(n for n in names if not internal.match(n))
