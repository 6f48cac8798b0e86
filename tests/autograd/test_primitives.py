"""Arithmetic and elementwise primitives: values against NumPy/SciPy, gradients by check_grads,
broadcasting, dtypes, edge cases (inf, NaN, kinks), shape errors, and array-in-array-out dispatch.

Reductions are tested in test_reductions.py, shape and indexing ops in test_structural.py, power
in test_power.py and clip in test_clip.py.
"""

import warnings

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax as nps
from npsoftmax.autograd import Tensor
from npsoftmax.autograd.elementwise import SELU_ALPHA, SELU_LAMBDA
from npsoftmax.testing import check_grads

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 4))
POS = RNG.uniform(0.5, 2.0, size=(3, 4))


def naive_selu(x):
    x = np.asarray(x, dtype=np.float64)
    return np.array(
        [SELU_LAMBDA * v if v > 0 else SELU_LAMBDA * SELU_ALPHA * np.expm1(v) for v in x.flat]
    ).reshape(x.shape)


# Each unary op with its NumPy/SciPy twin and a domain where it is smooth.
UNARY = [
    (nps.exp, np.exp, X),
    (nps.log, np.log, POS),
    (nps.tanh, np.tanh, X),
    (nps.sigmoid, sp.expit, X),
    (nps.relu, lambda a: np.maximum(a, 0), X + np.sign(X) * 0.01),  # away from the kink at 0
    (nps.selu, naive_selu, X + np.sign(X) * 0.01),
    (nps.negative, np.negative, X),
    (lambda a: nps.power(a, 3), lambda a: a**3, X),
    (lambda a: nps.power(a, -1.5), lambda a: a**-1.5, POS),
    (lambda a: nps.clip(a, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), X),
]
UNARY_IDS = ["exp", "log", "tanh", "sigmoid", "relu", "selu", "neg", "pow3", "pow-1.5", "clip"]


@pytest.mark.parametrize(("op", "twin", "x"), UNARY, ids=UNARY_IDS)
def test_unary_value_and_gradient(op, twin, x):
    np.testing.assert_allclose(op(x), twin(x), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(op(nps.tensor(x)).data, twin(x), rtol=1e-14, atol=1e-15)
    check_grads(op, x)


@pytest.mark.parametrize(("op", "twin", "x"), UNARY, ids=UNARY_IDS)
def test_unary_keeps_float32(op, twin, x):
    t = nps.tensor(x, dtype=np.float32, requires_grad=True)
    y = op(t)
    assert y.dtype == np.float32
    y.sum().backward()
    assert t.grad.dtype == np.float32
    assert op(x.astype(np.float32)).dtype == np.float32


BINARY = [
    (nps.add, np.add),
    (nps.subtract, np.subtract),
    (nps.multiply, np.multiply),
    (nps.divide, np.divide),
]


@pytest.mark.parametrize(("op", "twin"), BINARY, ids=lambda f: getattr(f, "__name__", ""))
@given(data=st.data())
@settings(deadline=None)
def test_binary_ops_broadcast_like_numpy(op, twin, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    elements = st.floats(0.5, 3.0) | st.floats(-3.0, -0.5)  # away from 0: divide stays smooth
    x = data.draw(hnp.arrays(np.float64, shapes.input_shapes[0], elements=elements))
    y = data.draw(hnp.arrays(np.float64, shapes.input_shapes[1], elements=elements))
    expected = twin(x, y)
    out = op(x, y)
    assert isinstance(out, np.ndarray | np.floating)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(op(nps.tensor(x), y).data, expected)
    check_grads(op, x, y)


@pytest.mark.parametrize(("op", "name"), [(nps.add, "add"), (nps.multiply, "multiply")])
def test_binary_shape_error_names_the_op_and_both_shapes(op, name):
    with pytest.raises(ValueError, match=rf"^{name}: shapes \(2, 3\) and \(4,\) do not broadcast"):
        op(nps.tensor(np.ones((2, 3))), np.ones(4))


def test_divide_gradient_of_the_denominator_does_not_overflow():
    # dy = -g x / y^2 computed as -(g / y) * (x / y): y^2 = inf would give -0 or NaN.
    y = nps.tensor([1e200], requires_grad=True)
    nps.divide(1e200, y).sum().backward()
    np.testing.assert_allclose(y.grad, [-1e-200])


def test_divide_gradient_of_the_denominator_where_g_over_y_overflows():
    # PyTorch's order, -g * ((x / y) / y): at x = 0 it is -0 where -(g / y) * (x / y) was
    # inf * 0 = NaN; at x = 1e-30, y = 1e-20, g = 1e20 the exact -1e30 where g / y overflows.
    for xv, yv, gv, want in [(0.0, 1e-30, 1e10, -0.0), (1e-30, 1e-20, 1e20, -1e30)]:
        x = nps.tensor(np.float32([xv]), requires_grad=True)
        y = nps.tensor(np.float32([yv]), requires_grad=True)
        nps.divide(x, y).backward(np.float32([gv]))
        np.testing.assert_allclose(y.grad, np.float32([want]), rtol=1e-6)
        assert np.signbit(y.grad[0])


# -- matmul -------------------------------------------------------------------------------------
MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),
    ((3,), (5, 3, 4)),
    ((5, 2, 3), (3,)),
    ((1, 2, 3), (5, 3, 1)),
]


@pytest.mark.parametrize(("sa", "sb"), MATMUL_SHAPES, ids=str)
def test_matmul_value_and_gradient(sa, sb):
    a, b = RNG.normal(size=sa), RNG.normal(size=sb)
    np.testing.assert_allclose(nps.matmul(a, b), np.matmul(a, b), rtol=1e-14)
    out = nps.tensor(a) @ b
    assert isinstance(out, Tensor) and out.shape == np.matmul(a, b).shape
    check_grads(nps.matmul, a, b)


def test_matmul_gradient_for_one_side_only():
    a = nps.tensor(RNG.normal(size=(2, 3)), requires_grad=True)
    b = RNG.normal(size=(3,))
    (a @ b).sum().backward()
    np.testing.assert_allclose(a.grad, np.broadcast_to(b, (2, 3)))


@pytest.mark.parametrize(
    ("sa", "sb", "message"),
    [
        ((2, 3), (4, 5), r"\(2, 3\) and \(4, 5\): inner dimensions 3 and 4 differ"),
        ((3,), (4,), r"\(3,\) and \(4,\): inner dimensions 3 and 4 differ"),
        ((2, 2, 3), (3, 3, 4), r"batch dimensions \(2,\) and \(3,\) do not broadcast"),
        ((), (3,), r"at least one dimension"),
    ],
)
def test_matmul_shape_errors(sa, sb, message):
    with pytest.raises(ValueError, match=r"^matmul: cannot multiply shapes .*" + message):
        nps.matmul(nps.tensor(np.ones(sa)), np.ones(sb))
    with pytest.raises(ValueError, match=r"^matmul: "):
        nps.matmul(np.ones(sa), np.ones(sb))


# -- sigmoid, selu, relu: stability and kinks ---------------------------------------------------
def test_sigmoid_and_selu_are_warning_free_at_extremes():
    x = np.array([-1e308, -800.0, -50.0, 0.0, 50.0, 800.0, 1e308, -np.inf, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = nps.sigmoid(x)
        e = nps.selu(x)
        t = nps.tensor(x, requires_grad=True)
        (nps.sigmoid(t) + nps.selu(t)).sum().backward()
    np.testing.assert_allclose(s, sp.expit(x), rtol=1e-15, atol=0)
    np.testing.assert_array_equal(e[[0, -2]], [-SELU_LAMBDA * SELU_ALPHA] * 2)
    assert e[-3] == SELU_LAMBDA * 1e308 and e[-1] == np.inf
    assert np.all(np.isfinite(t.grad[:-2])) and np.all(t.grad >= 0)


@given(hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-700, 700)))
@settings(deadline=None)
def test_sigmoid_matches_scipy(x):
    # Measured: at most 4 ulp (relative 4.5e-16) from SciPy over 2e6 random points.
    np.testing.assert_allclose(nps.sigmoid(x), sp.expit(x), rtol=1e-15, atol=0)


def test_selu_gradient_stays_accurate_for_very_negative_input():
    x = nps.tensor([-30.0], requires_grad=True)
    nps.selu(x).sum().backward()
    np.testing.assert_allclose(x.grad, SELU_LAMBDA * SELU_ALPHA * np.exp(-30.0), rtol=1e-14)


def test_sigmoid_and_selu_compute_integers_in_float64():
    assert nps.sigmoid(np.array([0, 1])).dtype == np.float64
    assert nps.selu(np.array([True, False])).dtype == np.float64


def test_relu_and_selu_gradients_at_zero_and_at_nan():
    # PyTorch's rule: the "x <= 0" branch is taken where x <= 0; NaN takes the other one.
    x = nps.tensor([-1.0, 0.0, 2.0, np.nan], requires_grad=True)
    y = nps.relu(x)
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 2.0, np.nan])
    y.backward(np.ones(4))
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0, 1.0])
    x.grad = None
    nps.selu(x).backward(np.ones(4))
    k = SELU_LAMBDA * SELU_ALPHA
    np.testing.assert_allclose(x.grad, [k * np.exp(-1.0), k, SELU_LAMBDA, SELU_LAMBDA])


@pytest.mark.parity
@pytest.mark.parametrize("name", ["relu", "selu"])
def test_relu_and_selu_gradients_at_nan_match_torch(name):
    torch = pytest.importorskip("torch")
    v = np.array([np.nan, 0.0, -1.0, 2.0, -np.inf, np.inf])
    x = nps.tensor(v, requires_grad=True)
    getattr(nps, name)(x).sum().backward()
    t = torch.tensor(v, requires_grad=True)
    getattr(torch, name)(t).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-15)


# -- where ------------------------------------------------------------------------------------
def test_where_value_and_gradient_with_broadcasting():
    cond = np.array([[True], [False], [True]])
    x, y = RNG.normal(size=(3, 4)), RNG.normal(size=(4,))
    np.testing.assert_array_equal(nps.where(cond, x, y), np.where(cond, x, y))
    check_grads(lambda a, b: nps.where(cond, a, b), x, y)


def test_where_untaken_branch_gets_exactly_zero_even_for_inf_and_nan_upstream():
    cond = np.array([True, False, True, False])
    x = nps.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = nps.tensor([5.0, 6.0, 7.0, 8.0], requires_grad=True)
    nps.where(cond, x, y).backward(np.array([1.0, np.inf, 2.0, np.nan]))
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 2.0, 0.0])
    np.testing.assert_array_equal(y.grad, [0.0, np.inf, 0.0, np.nan])


def test_where_with_inf_in_the_untaken_branch_gives_finite_gradients():
    x = nps.tensor([1.0, -1.0, 2.0], requires_grad=True)
    blocked = nps.where(x > 0, x, -np.inf)  # a mask as a softmax would get it
    np.testing.assert_array_equal(blocked.data, [1.0, -np.inf, 2.0])
    (nps.exp(blocked) * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3 * np.e, 0.0, 3 * np.exp(2.0)])


def test_where_shape_error_names_the_three_shapes():
    with pytest.raises(ValueError, match=r"where: shapes \(2,\) \(cond\), \(3,\) \(x\)"):
        nps.where(np.array([True, False]), nps.tensor(np.ones(3)), 0.0)


# -- dispatch -------------------------------------------------------------------------------------
ALL_ELEMENTWISE = [nps.exp, nps.tanh, nps.sigmoid, nps.relu, nps.selu, nps.negative]


@pytest.mark.parametrize("op", ALL_ELEMENTWISE, ids=lambda f: f.__name__)
def test_array_in_array_out_tensor_in_tensor_out(op):
    out = op(X)
    assert type(out) is np.ndarray
    t = op(nps.tensor(X, requires_grad=True))
    assert isinstance(t, Tensor) and t.requires_grad
    np.testing.assert_array_equal(t.data, out)
    assert type(op([0.5, 1.0])) is np.ndarray  # lists are arrays too


@pytest.mark.parametrize("op", [*ALL_ELEMENTWISE, nps.log], ids=lambda f: f.__name__)
def test_strings_and_objects_are_refused(op):
    with pytest.raises(TypeError, match="numeric"):
        op(np.array(["a"]))
    with pytest.raises(TypeError, match="numeric"):
        op(np.array([object()]))


def test_binary_ops_refuse_a_string_next_to_a_tensor():
    with pytest.raises(TypeError, match="numeric"):
        nps.add(nps.tensor([1.0]), "a")


def test_numpy_path_keeps_float32_next_to_python_scalars():
    x = np.float32([1.0, 2.0])
    for y in (nps.add(x, 2.0), nps.divide(1, x), nps.where(x > 1, x, 0.5), nps.power(x, 2.0)):
        assert y.dtype == np.float32


# -- no RuntimeWarning escapes: inf and NaN are results -------------------------------------------
EXTREME = np.array([0.0, -0.0, 1e308, -1e308, np.inf, -np.inf, np.nan, 1.0, -1.0])
BINARY_OPS = [nps.add, nps.subtract, nps.multiply, nps.divide, nps.matmul]
UNARY_OPS = [
    nps.exp,
    nps.log,
    nps.tanh,
    nps.sigmoid,
    nps.relu,
    nps.selu,
    nps.negative,
    lambda t: nps.power(t, -1.5),
    lambda t: nps.power(t, 3),
    lambda t: nps.clip(t, -1.0, 1.0),
    lambda t: nps.sum(nps.multiply(t, 1e308)),
    lambda t: nps.mean(nps.multiply(t, 1e308)),
    nps.max,
]


def test_no_runtime_warning_escapes_for_extreme_inputs():
    # Fresh leaves for every op: this tests the ops, not the engine's accumulation of many
    # huge gradients into one .grad.
    def leaf(values):
        return nps.tensor(values, requires_grad=True)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for op in BINARY_OPS:
            op(EXTREME, EXTREME[::-1])
            out = op(leaf(EXTREME), leaf(EXTREME[::-1]))
            out.backward(np.full(out.shape, 1e308))
        for op in UNARY_OPS:
            op(EXTREME)
            out = op(leaf(EXTREME))
            out.backward(np.full(out.shape, 1e308))
