"""sparsemax, entmax15 and sparse_softmax: oracles, invariants, edges, gradients, errors.

Oracles: ``tests/naive.py`` (exact sparsemax, 40-digit 1.5-entmax), the golden vectors of
variants.md, closed forms (n = 2 sparsemax is a hard sigmoid), SciPy's softmax, and composite
twins written over ``npsoftmax.autograd.ops`` (value and gradient).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import npsoftmax as nps
from npsoftmax.autograd import ops
from npsoftmax.functional.topk import top_k_mask
from npsoftmax.testing import check_grads
from tests.naive import naive_entmax15, naive_rows, naive_sparsemax

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

MAPS = {"sparsemax": nps.sparsemax, "entmax15": nps.entmax15}
ORACLES = {"sparsemax": naive_sparsemax, "entmax15": naive_entmax15}
SCALE = {"sparsemax": 1.0, "entmax15": 0.5}  # the map's own scale: y = [SCALE * x - tau]_+^(..)
EPS = np.finfo(np.float64).eps
# The gradient tests run the full finite-difference Jacobian per example: fewer examples keep
# this file at a few seconds.
FEW = settings(max_examples=15)


def rows_f64(max_n: int = 8, bound: float = 50.0):
    return arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, max_n)),
        elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False),
    )


def threshold(y: np.ndarray, x: np.ndarray, name: str) -> np.ndarray:
    """tau per row, from any support entry: z_i - y_i^(alpha - 1) (KKT on the support)."""
    z = SCALE[name] * (x - x.max(axis=-1, keepdims=True))
    root = y if name == "sparsemax" else np.sqrt(y)
    return np.where(y > 0, z - root, np.nan)


# --- Golden vectors and the oracle ----------------------------------------------------------


def test_golden_vectors():
    x = np.array([-2.0, 0.0, 0.5])
    np.testing.assert_allclose(nps.sparsemax(x), [0.0, 0.25, 0.75], atol=1e-15)
    np.testing.assert_allclose(nps.entmax15(x), [0.0, 0.32600736, 0.67399264], atol=1e-8)
    np.testing.assert_array_equal(nps.sparsemax(np.arange(1.0, 6.0)), [0, 0, 0, 0, 1])


@given(t=st.floats(-5, 5))
def test_sparsemax_two_classes_is_a_hard_sigmoid(t):
    y = nps.sparsemax(np.array([t, 0.0]))
    assert abs(y[0] - np.clip((t + 1) / 2, 0, 1)) <= 4 * EPS


@pytest.mark.parametrize("name", MAPS)
@given(x=rows_f64())
def test_against_the_oracle(backend, name, x):
    expected = naive_rows(ORACLES[name], x)
    np.testing.assert_allclose(MAPS[name](x), expected, rtol=0, atol=32 * x.shape[1] * EPS)


@pytest.mark.parametrize("name", MAPS)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64, np.bool_])
def test_dtypes(name, dtype):
    x = np.array([[3, 1, 0, 2], [1, 0, 1, 1]]).astype(dtype)
    y = MAPS[name](x)
    expected_dtype = {np.int64: np.float64, np.bool_: np.float64}.get(dtype, dtype)
    assert y.dtype == expected_dtype
    want = naive_rows(ORACLES[name], x.astype(np.float64))
    np.testing.assert_allclose(y.astype(np.float64), want, atol=float(np.finfo(y.dtype).eps) * 8)


# --- Invariants -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", MAPS)
@given(x=rows_f64(bound=1e3))
def test_simplex_kkt_and_order(backend, name, x):
    y = MAPS[name](x)
    n = x.shape[1]
    assert (y >= 0).all()
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=0, atol=4 * n * EPS)
    # KKT: tau = z_i - y_i^(alpha-1) is one constant on the support, and z_i <= tau off it.
    tau = threshold(y, x, name)
    tau_row = np.nanmean(tau, axis=-1, keepdims=True)
    z = SCALE[name] * (x - x.max(axis=-1, keepdims=True))
    spread = np.where(y > 0, tau - tau_row, 0.0)
    np.testing.assert_allclose(spread, 0.0, rtol=0, atol=64 * n * EPS)
    assert (np.where(y > 0, -np.inf, z) <= tau_row + 64 * n * EPS).all()
    # Order preservation: x_i > x_j => y_i >= y_j.
    order = np.argsort(x, axis=-1, kind="stable")
    assert (np.diff(np.take_along_axis(y, order, axis=-1), axis=-1) >= -4 * EPS).all()


@pytest.mark.parametrize("name", MAPS)
@given(x=rows_f64(bound=10.0), c=st.sampled_from([-1e6, -3.0, 0.5, 1e6]))
def test_shift_invariance_float64(name, x, c):
    # x + c rounds each entry by up to |c| eps / 2: that, not the map, bounds the agreement.
    np.testing.assert_allclose(MAPS[name](x + c), MAPS[name](x), rtol=0, atol=8 * abs(c) * EPS)


@pytest.mark.parametrize("name", MAPS)
@given(x=rows_f64(bound=10.0), c=st.sampled_from([-1000.0, 100.0, 1000.0]))
def test_shift_invariance_float32(name, x, c):
    x32 = x.astype(np.float32)
    shifted = (x32 + np.float32(c)).astype(np.float32)
    eps32 = float(np.finfo(np.float32).eps)
    atol = 8 * abs(c) * eps32 + 8 * eps32
    np.testing.assert_allclose(MAPS[name](shifted), MAPS[name](x32), rtol=0, atol=atol)


@given(
    p=arrays(np.float64, st.integers(1, 8), elements=st.floats(0, 1)).filter(lambda p: p.sum() > 0)
)
def test_sparsemax_is_the_identity_on_the_simplex(p):
    p = p / p.sum()
    np.testing.assert_allclose(nps.sparsemax(p), p, rtol=0, atol=8 * len(p) * EPS)


@pytest.mark.parametrize("name", MAPS)
@FEW
@given(x=rows_f64(), data=st.data())
def test_permutation_equivariance(name, x, data):
    perm = data.draw(st.permutations(range(x.shape[1])))
    np.testing.assert_allclose(MAPS[name](x[:, perm]), MAPS[name](x)[:, perm], atol=16 * EPS)


@pytest.mark.parametrize("name", MAPS)
def test_uniform_on_equal_logits_and_sparsity_between_softmax_and_sparsemax(name):
    np.testing.assert_allclose(MAPS[name](np.full(7, 3.25)), 1 / 7, rtol=1e-15)
    x = np.random.default_rng(0).normal(0, 2, (200, 10))
    nnz = {k: np.count_nonzero(f(x), axis=-1) for k, f in MAPS.items()}
    assert (nnz["sparsemax"] <= nnz["entmax15"]).all()
    assert (nnz["entmax15"] <= 10).all() and (nnz["entmax15"] < 10).any()


# --- Edge rows (policy: -inf gets 0; NaN, +inf or all -inf rows are all NaN) ----------------


@pytest.mark.parametrize("name", MAPS)
def test_edge_rows(backend, name):
    x = np.array(
        [
            [0.0, -np.inf, 1.0, 0.5],
            [np.nan, 0.0, 1.0, 2.0],
            [np.inf, 0.0, 1.0, 2.0],
            [-np.inf] * 4,
            [-np.inf, -np.inf, 7.0, -np.inf],
        ]
    )
    y = MAPS[name](x)
    assert y[0, 1] == 0.0 and np.isclose(y[0].sum(), 1.0)
    np.testing.assert_allclose(y[0], naive_rows(ORACLES[name], x[:1])[0], atol=1e-15)
    assert np.isnan(y[1:4]).all()
    np.testing.assert_array_equal(y[4], [0, 0, 1, 0])
    assert MAPS[name](np.zeros((3, 0))).shape == (3, 0)
    assert MAPS[name](np.zeros((0, 3))).shape == (0, 3)
    t = nps.tensor(x, requires_grad=True)
    MAPS[name](t).sum().backward()
    assert np.isnan(t.grad[1:4]).all() and np.isfinite(t.grad[[0, 4]]).all()


# --- Axes and shapes ------------------------------------------------------------------------


@pytest.mark.parametrize("name", MAPS)
@pytest.mark.parametrize("axis", [0, 1, -1, (0, 2), None])
def test_any_axis_equals_moving_it_last(name, axis):
    x = np.random.default_rng(1).normal(size=(3, 4, 5))
    y = MAPS[name](x, axis=axis)
    axes = tuple(range(3)) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    axes = tuple(a % 3 for a in axes)
    moved = np.moveaxis(x, axes, tuple(range(3 - len(axes), 3)))
    flat = moved.reshape(-1, int(np.prod([x.shape[a] for a in axes])))
    want = naive_rows(ORACLES[name], flat).reshape(moved.shape)
    np.testing.assert_allclose(
        y, np.moveaxis(want, tuple(range(3 - len(axes), 3)), axes), atol=1e-14
    )


@pytest.mark.parametrize("name", MAPS)
def test_gradients_agree_for_a_2d_and_an_equivalent_3d_input(name):
    # entmax issue #13: (2, 3) and (2, 1, 3) gave different gradients there.
    x = np.array([[0.1, 0.5, -0.3], [1.0, 0.2, 0.4]])
    g = np.array([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]])
    grads = []
    for shape, axis in (((2, 3), -1), ((2, 1, 3), -1), ((3, 1, 2), 0)):
        data = x.reshape(shape) if axis == -1 else x.T.reshape(shape)
        t = nps.tensor(data, requires_grad=True)
        gg = g.reshape(shape) if axis == -1 else g.T.reshape(shape)
        MAPS[name](t, axis=axis).backward(gg)
        grads.append(t.grad.reshape(2, 3) if axis == -1 else t.grad.reshape(3, 2).T)
    for gr in grads[1:]:
        np.testing.assert_allclose(gr, grads[0], atol=1e-15)


def test_out_argument_and_in_place():
    x0 = np.array([[-2.0, 0.0, 0.5], [1.0, 2.0, 3.0]])
    x, out = x0.copy(), np.empty_like(x0)
    assert nps.sparsemax(x, out=out) is out
    np.testing.assert_allclose(out, naive_rows(naive_sparsemax, x0), atol=1e-15)
    assert nps.entmax15(x, out=x) is x
    np.testing.assert_allclose(x, naive_rows(naive_entmax15, x0), atol=1e-15)


# --- Gradients ------------------------------------------------------------------------------


def away_from_kinks(x: np.ndarray, name: str, margin: float = 1e-3) -> bool:
    """True when no entry sits within ``margin`` of the threshold (the map is smooth there)."""
    y = MAPS[name](x)
    tau = np.nanmean(threshold(y, x, name), axis=-1, keepdims=True)
    z = SCALE[name] * (x - x.max(axis=-1, keepdims=True))
    return bool((np.abs(z - tau) > margin).all())


@pytest.mark.parametrize("name", MAPS)
@FEW
@given(x=rows_f64(max_n=5, bound=3.0))
def test_check_grads(name, x):
    assume(away_from_kinks(x, name))
    check_grads(lambda t: MAPS[name](t), x)


@pytest.mark.parametrize("name", MAPS)
@given(x=rows_f64(bound=5.0), data=st.data())
def test_jacobian_identities(backend, name, x, data):
    g = data.draw(arrays(np.float64, x.shape, elements=st.floats(-5, 5)))
    t = nps.tensor(x, requires_grad=True)
    MAPS[name](t).backward(g)
    scale = 4 * x.shape[1] * EPS * (1 + np.abs(g).max())
    np.testing.assert_allclose(t.grad.sum(axis=-1), 0.0, atol=scale)  # shift invariance: J 1 = 0
    t2 = nps.tensor(x, requires_grad=True)
    MAPS[name](t2).backward(np.broadcast_to(g[:, :1], g.shape).copy())  # 1^T J = 0
    np.testing.assert_allclose(t2.grad, 0.0, atol=scale)


def composite_sparsemax(x):
    """sparsemax over ops: the support from a sort (a constant), tau differentiable."""
    data = x.data if isinstance(x, nps.Tensor) else x
    s = nps.sparsemax(data) > 0
    k = s.sum(axis=-1, keepdims=True)
    tau = (ops.sum(ops.where(s, x, 0.0), axis=-1, keepdims=True) - 1.0) / k
    return ops.relu(x - tau)


def composite_entmax15(x):
    """entmax15 over ops: tau = mean_S - sqrt((1 - ss_S) / k) on the (constant) support S."""
    data = x.data if isinstance(x, nps.Tensor) else x
    s = nps.entmax15(data) > 0
    k = s.sum(axis=-1, keepdims=True)
    z = x / 2.0
    mean = ops.sum(ops.where(s, z, 0.0), axis=-1, keepdims=True) / k
    ss = ops.sum(ops.where(s, (z - mean) ** 2, 0.0), axis=-1, keepdims=True)
    tau = mean - ((1.0 - ss) / k) ** 0.5
    return ops.relu(z - tau) ** 2


@pytest.mark.parametrize(
    ("name", "twin"), [("sparsemax", composite_sparsemax), ("entmax15", composite_entmax15)]
)
@FEW
@given(x=rows_f64(max_n=5, bound=3.0))
def test_fused_matches_its_composite_twin(name, twin, x):
    assume(away_from_kinks(x, name))
    np.testing.assert_allclose(MAPS[name](x), twin(x), atol=1e-13)
    g = np.random.default_rng(0).normal(size=x.shape)
    a, b = nps.tensor(x, requires_grad=True), nps.tensor(x, requires_grad=True)
    MAPS[name](a).backward(g)
    twin(b).backward(g)
    np.testing.assert_allclose(a.grad, b.grad, atol=1e-12)


# --- sparse_softmax -------------------------------------------------------------------------


def test_sparse_softmax_values_ties_and_nan():
    y = nps.sparse_softmax(np.array([100.0, 90.0, 1.0]), k=2)
    np.testing.assert_allclose(y, [*scipy.special.softmax([100.0, 90.0]), 0.0], rtol=1e-15)
    # Ties at the k-th place: the lower index wins (stable sort on (-x, index)).
    np.testing.assert_array_equal(
        nps.sparse_softmax(np.array([1, 3, 3, 3, 0, 3.0]), k=2) > 0, [0, 1, 1, 0, 0, 0]
    )
    x = np.array(
        [
            [1.0, np.nan, 3.0, 2.0],
            [np.inf, 1.0, 3.0, 2.0],
            [-np.inf] * 4,
            [1.0, -np.inf, -np.inf, 0],
        ]
    )
    y = nps.sparse_softmax(x, k=2)
    np.testing.assert_array_equal(np.isnan(y), [[0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 0, 0], [0] * 4])
    np.testing.assert_array_equal(np.where(np.isnan(y), 0, y)[:2], 0.0)
    np.testing.assert_allclose(y[3], [scipy.special.expit(1.0), 0, 0, scipy.special.expit(-1.0)])


def test_top_k_mask_ranks_nan_then_inf():
    x = np.array([[0.0, np.inf, np.nan, 5.0, -np.inf]])
    np.testing.assert_array_equal(top_k_mask(x, 1), [[0, 0, 1, 0, 0]])
    np.testing.assert_array_equal(top_k_mask(x, 3), [[0, 1, 1, 1, 0]])


@given(x=rows_f64(bound=100.0), data=st.data())
def test_sparse_softmax_properties(backend, x, data):
    n = x.shape[1]
    k = data.draw(st.integers(1, n))
    y = nps.sparse_softmax(x, k=k)
    assert (np.count_nonzero(y, axis=-1) == k).all()  # |x| <= 100: no exp underflows to 0
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, atol=4 * n * EPS)
    keep = top_k_mask(x, k)
    want = scipy.special.softmax(np.where(keep, x, -np.inf), axis=-1)
    np.testing.assert_allclose(y, want, rtol=1e-13, atol=1e-300)
    srt = np.sort(x, axis=-1)[:, ::-1]
    if k == n or (srt[:, k - 1] - srt[:, k] > 1e-9).all():  # rounding x + c keeps the top k
        np.testing.assert_allclose(nps.sparse_softmax(x + 7.5, k=k), y, atol=1e-12)  # shift
    # k = n is softmax; k = 1 is the one-hot of the first argmax.
    np.testing.assert_allclose(
        nps.sparse_softmax(x, k=n), scipy.special.softmax(x, axis=-1), rtol=1e-13, atol=1e-300
    )
    np.testing.assert_array_equal(nps.sparse_softmax(x, k=1), np.eye(n)[np.argmax(x, axis=-1)])


@FEW
@given(x=rows_f64(max_n=5, bound=3.0), data=st.data())
def test_sparse_softmax_gradients(x, data):
    k = data.draw(st.integers(1, x.shape[1]))
    srt = np.sort(x, axis=-1)[:, ::-1]
    assume(k == x.shape[1] or (srt[:, k - 1] - srt[:, k] > 1e-3).all())  # no tie at the cut
    check_grads(lambda t: nps.sparse_softmax(t, k=k), x)
    t = nps.tensor(x, requires_grad=True)
    nps.sparse_softmax(t, k=k).backward(np.ones_like(x))
    np.testing.assert_allclose(t.grad, 0.0, atol=1e-15)
    twin = nps.tensor(x, requires_grad=True)
    nps.softmax(ops.where(top_k_mask(x, k), twin, -np.inf)).backward(x)
    t.grad = None
    nps.sparse_softmax(t, k=k).backward(x)
    np.testing.assert_allclose(t.grad, twin.grad, atol=1e-14)


def test_sparse_softmax_vjp_ignores_g_outside_the_top_k(backend):
    # The output does not depend on the dropped entries, so their upstream gradient (inf, NaN)
    # must not reach the kept ones: first principles, the softmax VJP of the kept pair alone.
    x = np.array([[0.1, -5.0, 0.3, -6.0]])
    g = np.array([[1.0, np.inf, -1.0, np.nan]])
    t = nps.tensor(x, requires_grad=True)
    nps.sparse_softmax(t, k=2).backward(g)
    y = scipy.special.softmax(x[0, [0, 2]])
    g_kept = g[0, [0, 2]]
    want = np.zeros_like(x)
    want[0, [0, 2]] = y * (g_kept - g_kept @ y)  # [0.495, -0.495]
    np.testing.assert_allclose(t.grad, want, rtol=1e-14, atol=0)
    # float32 and a tuple of axes go the same way
    t32 = nps.tensor(x.reshape(1, 2, 2).astype(np.float32), requires_grad=True)
    nps.sparse_softmax(t32, k=2, axis=(1, 2)).backward(g.reshape(1, 2, 2).astype(np.float32))
    np.testing.assert_allclose(t32.grad.reshape(1, 4), want, rtol=1e-6, atol=0)


def test_sparse_softmax_axes():
    x = np.random.default_rng(2).normal(size=(3, 5, 2))
    y = nps.sparse_softmax(x, k=2, axis=1)
    np.testing.assert_allclose(
        y, np.moveaxis(nps.sparse_softmax(np.moveaxis(x, 1, -1), k=2), -1, 1)
    )
    assert (np.count_nonzero(y, axis=1) == 2).all()
    assert nps.sparse_softmax(x, k=30, axis=None).shape == x.shape
    np.testing.assert_allclose(nps.sparse_softmax(x, k=30, axis=None), scipy.special.softmax(x))


# --- Bad input ------------------------------------------------------------------------------


def test_bad_input():
    x = np.zeros((2, 4))
    for k in (0, 5, -1):
        with pytest.raises(ValueError, match=rf"k = {k}.*|n = 4"):
            nps.sparse_softmax(x, k=k)
    for k in (2.0, True, "2", None):
        with pytest.raises(TypeError, match="k must be an integer"):
            nps.sparse_softmax(x, k=k)
    assert nps.sparse_softmax(np.zeros((2, 0)), k=3).shape == (2, 0)  # empty axis, any k >= 1
    with pytest.raises(ValueError, match="k must be at least 1, got k = 0"):
        nps.sparse_softmax(np.zeros((2, 0)), k=0)
    for f in (nps.sparsemax, nps.entmax15):
        name = f.__name__
        with pytest.raises(TypeError, match=rf"^{name}'s input must be a numeric array"):
            f(np.array(["a", "b"]))
        with pytest.raises(IndexError, match=rf"^{name}: axis 2 is out of bounds .* dimension 2"):
            f(x, axis=2)
