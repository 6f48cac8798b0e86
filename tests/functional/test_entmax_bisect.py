"""entmax_bisect: agreement with the exact maps, the softmax limit, KKT, shift invariance,
gradients with respect to x and alpha, edges and errors.

Tolerances: by default the bracket is halved until it cannot shrink in float64, and measured
float64 agreement with sparsemax / entmax15 is about ``1e-15``; the tests allow ``1e-13``.
"""

from __future__ import annotations

import functools
import itertools

import mpmath
import numpy as np
import pytest
import scipy.special
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import npsoftmax as nps
from npsoftmax.functional.bisection import MAX_STEPS
from npsoftmax.testing import check_grads
from tests.naive import naive_entmax_bisect, naive_entmax_bisect_converged, naive_rows

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

EPS = np.finfo(np.float64).eps
FEW = settings(max_examples=15)  # full finite-difference Jacobians per example


def rows_f64(max_n: int = 8, bound: float = 20.0):
    return arrays(
        np.float64,
        st.tuples(st.integers(1, 3), st.integers(1, max_n)),
        elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False),
    )


alphas = st.floats(1.05, 4.0)


@given(x=rows_f64())
def test_alpha_2_is_sparsemax_and_alpha_15_is_entmax15(backend, x):
    np.testing.assert_allclose(nps.entmax_bisect(x, alpha=2.0), nps.sparsemax(x), atol=1e-13)
    np.testing.assert_allclose(nps.entmax_bisect(x, alpha=1.5), nps.entmax15(x), atol=1e-13)


def test_float32_agreement_and_fewer_iterations():
    x = np.random.default_rng(0).normal(0, 3, (50, 12))
    x32 = x.astype(np.float32)
    y32 = nps.entmax_bisect(x32, alpha=1.5)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, nps.entmax15(x32), atol=2 * np.finfo(np.float32).eps)
    # n_iter caps the Newton steps: one step leaves the threshold visibly off (the rows still
    # sum to one), and the method has converged, identically, long before 10.
    converged = nps.entmax_bisect(x, 1.3)
    one_step = nps.entmax_bisect(x, 1.3, n_iter=1)
    assert np.abs(one_step - converged).max() > 1e-6
    np.testing.assert_allclose(one_step.sum(axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(nps.entmax_bisect(x, 1.3, n_iter=10), converged)


@given(x=rows_f64(max_n=6), alpha=alphas)
def test_against_the_oracle(backend, x, alpha):
    y = nps.entmax_bisect(x, alpha=alpha)
    want = naive_rows(functools.partial(naive_entmax_bisect, alpha=alpha), x)
    # the threshold's error (~1e-15) times the sensitivity |dy/dtau| = y^(2-alpha) / (alpha-1),
    # plus what the final division by sum(y) spreads from the other entries: y_i * sum_j of
    # theirs (at alpha 3.75, [0.34375, 0, 0] puts 1e-13 on each small entry and 2e-13 on the
    # large one that way, with n_iter=50 and to convergence alike)
    with np.errstate(divide="ignore"):
        sens = np.where(want > 0, np.where(want > 0, want, 1.0) ** (2 - alpha), 0) / (alpha - 1)
    spread = want * sens.sum(axis=-1, keepdims=True)
    atol = 1e-13 * (1 + sens + spread) + np.where(want > 0, 0, 1e-13 ** (1 / (alpha - 1)))
    assert (np.abs(y - want) <= atol).all()


def test_alpha_to_one_approaches_softmax():
    x = np.random.default_rng(1).normal(size=(100, 10))
    errors = [
        np.abs(nps.entmax_bisect(x, a) - scipy.special.softmax(x, axis=-1)).max()
        for a in (1.1, 1.01, 1.001, 1.0001)
    ]
    assert all(e1 > e2 for e1, e2 in itertools.pairwise(errors))
    assert errors[-1] < 1e-3  # the error is O(alpha - 1)


@given(x=rows_f64(bound=50.0), alpha=alphas)
def test_simplex_and_kkt(backend, x, alpha):
    y = nps.entmax_bisect(x, alpha=alpha)
    n = x.shape[1]
    assert (y >= 0).all()
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, atol=4 * n * EPS)
    # KKT: (alpha-1) z_i - y_i^(alpha-1) = tau on the support, (alpha-1) z_i <= tau off it.
    z = (alpha - 1) * (x - x.max(axis=-1, keepdims=True))
    tau = np.where(y > 0, z - y ** (alpha - 1), np.nan)
    tau_row = np.nanmean(tau, axis=-1, keepdims=True)
    # d(y^(alpha-1)) = (alpha-1) y^(alpha-2) dy: small y with alpha < 2 amplifies rounding.
    with np.errstate(divide="ignore"):
        amp = np.where(y > 0, (alpha - 1) * np.where(y > 0, y, 1.0) ** (alpha - 2), 0.0)
    tol = 1e-12 * (1 + amp)
    assert (np.where(y > 0, np.abs(tau - tau_row), 0.0) <= tol).all()
    assert (np.where(y > 0, -np.inf, z) <= tau_row + 1e-12).all()


@given(x=rows_f64(bound=10.0), alpha=alphas, c=st.sampled_from([-1e8, -1e6, 1e6, 1e8]))
def test_shift_invariance_float64(x, alpha, c):
    # x + c rounds each entry by up to |c| eps / 2; the map is Lipschitz with constant about
    # max h / (alpha - 1) < n / (alpha - 1) in the max norm (for alpha <= 2).
    y, ys = nps.entmax_bisect(x, alpha=alpha), nps.entmax_bisect(x + c, alpha=alpha)
    lipschitz = x.shape[1] / (alpha - 1) if alpha <= 2 else 1e3
    assert (np.abs(ys - y) <= 2 * abs(c) * EPS * lipschitz + 1e-13 ** min(1, 1 / (alpha - 1))).all()


def test_shift_invariance_float32_large_offset():
    # The entmax package returns NaN at a float32 offset of 1e8; the max-shift makes it exact.
    x = np.array([0.3, -0.5, 0.8], dtype=np.float32)
    want = nps.entmax_bisect(x.astype(np.float64), alpha=1.5)
    for c in (1e3, 1e6, 1e8):
        xs = (x + np.float32(c)).astype(np.float32)
        exact = nps.entmax_bisect((xs - xs.max()).astype(np.float64), alpha=1.5)
        got = nps.entmax_bisect(xs, alpha=1.5)
        assert not np.isnan(got).any()
        np.testing.assert_allclose(got, exact, atol=2 * np.finfo(np.float32).eps)
    np.testing.assert_allclose(
        nps.entmax_bisect(x + np.float32(1e3), alpha=1.5), want, atol=1e3 * 4e-7
    )


def test_edge_rows(backend):
    x = np.array(
        [
            [0.0, -np.inf, 1.0],
            [np.nan, 0.0, 1.0],
            [np.inf, 0.0, 1.0],
            [-np.inf] * 3,
            [2.0, 2.0, 2.0],
        ]
    )
    for alpha in (1.2, 2.0, 3.5):
        y = nps.entmax_bisect(x, alpha=alpha)
        assert y[0, 1] == 0.0 and np.isclose(y[0].sum(), 1.0)
        assert np.isnan(y[1:4]).all()
        np.testing.assert_allclose(y[4], 1 / 3, rtol=1e-14)
    assert nps.entmax_bisect(np.zeros((2, 0))).shape == (2, 0)
    np.testing.assert_array_equal(nps.entmax_bisect(np.array([[5.0], [-3.0]])), [[1.0], [1.0]])


@pytest.mark.parametrize("axis", [0, 1, -1, (0, 2), None])
def test_any_axis(axis):
    x = np.random.default_rng(2).normal(size=(3, 4, 5))
    y = nps.entmax_bisect(x, alpha=1.5, axis=axis)
    np.testing.assert_allclose(y, nps.entmax15(x, axis=axis), atol=1e-13)


def away_from_kinks(x: np.ndarray, alpha: float, margin: float = 1e-2) -> bool:
    """True when no entry is within ``margin`` of the threshold (on the map's own scale)."""
    y = nps.entmax_bisect(x, alpha=alpha)
    z = (alpha - 1) * (x - x.max(axis=-1, keepdims=True))
    tau = np.nanmean(np.where(y > 0, z - y ** (alpha - 1), np.nan), axis=-1, keepdims=True)
    return bool((np.abs(z - tau) > margin).all())


@FEW
@given(x=rows_f64(max_n=5, bound=3.0), alpha=st.floats(1.2, 2.5))
def test_check_grads_x(x, alpha):
    assume(away_from_kinks(x, alpha))
    check_grads(lambda t: nps.entmax_bisect(t, alpha=alpha), x, rtol=1e-4, atol=1e-6)


@FEW
@given(x=rows_f64(max_n=5, bound=3.0), alpha=st.floats(1.2, 2.5))
def test_check_grads_alpha(x, alpha):
    assume(away_from_kinks(x, alpha))
    assume(away_from_kinks(x, alpha * (1 + 1e-5)) and away_from_kinks(x, alpha * (1 - 1e-5)))
    check_grads(
        lambda t, a: nps.entmax_bisect(t, alpha=a), x, np.array(alpha), rtol=1e-4, atol=1e-6
    )


def test_alpha_gradient_shapes_and_dtypes():
    x = nps.tensor(np.array([[0.1, 0.5, -0.3], [1.0, 0.2, 0.4]], dtype=np.float32))
    for shape in ((), (1,)):
        a = nps.tensor(np.full(shape, 1.7, dtype=np.float32), requires_grad=True)
        y = nps.entmax_bisect(x, alpha=a)
        assert isinstance(y, nps.Tensor) and y.dtype == np.float32
        (y * nps.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
        assert a.grad.shape == shape and a.grad.dtype == np.float32 and np.isfinite(a.grad).all()


@given(x=rows_f64(bound=5.0), alpha=alphas, data=st.data())
def test_jacobian_identities(backend, x, alpha, data):
    g = data.draw(arrays(np.float64, x.shape, elements=st.floats(-5, 5)))
    t = nps.tensor(x, requires_grad=True)
    nps.entmax_bisect(t, alpha=alpha).backward(g)
    np.testing.assert_allclose(t.grad.sum(axis=-1), 0.0, atol=1e-9 * (1 + np.abs(g).max()))
    t2 = nps.tensor(x, requires_grad=True)
    nps.entmax_bisect(t2, alpha=alpha).backward(np.broadcast_to(g[:, :1], g.shape).copy())
    np.testing.assert_allclose(t2.grad, 0.0, atol=1e-9 * (1 + np.abs(g).max()))


def test_bad_input():
    x = np.zeros((2, 3))
    for alpha in (1.0, 0.5, -2.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="alpha"):
            nps.entmax_bisect(x, alpha=alpha)
    with pytest.raises(ValueError, match="alpha"):
        nps.entmax_bisect(x, alpha=nps.tensor([1.5, 2.0]))
    for alpha in ("1.5", None, True):
        with pytest.raises(TypeError, match="alpha"):
            nps.entmax_bisect(x, alpha=alpha)
    for n_iter in (0, -3):
        with pytest.raises(ValueError, match="n_iter"):
            nps.entmax_bisect(x, n_iter=n_iter)
    for n_iter in (2.5, "10", True):
        with pytest.raises(TypeError, match="n_iter"):
            nps.entmax_bisect(x, n_iter=n_iter)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("alpha", [1.5, 2.0, 3.0])
def test_default_converges_to_float64_precision(alpha, backend):
    # Small logits (|tau| small): the entmax package's fixed 50 halvings leave 2**-51 in tau,
    # 1.4, 11 and 234 units of error here at alpha 1.5, 2, 3 (measured); the default runs to
    # convergence: at most 0.54 units (measured, both backends).
    rng = np.random.default_rng(11)
    x = rng.uniform(-0.1, 0.1, (4, 300))
    exact = np.array([naive_entmax_bisect_converged(row, alpha) for row in x])
    w = (alpha - 1) * (x - x.max(axis=1, keepdims=True))
    scale = EPS * np.abs(w).max()  # units of eps times the size of w (see numba_sparse)
    on = exact > 0
    with nps.use_backend(backend):
        default = nps.entmax_bisect(x, alpha)
    assert np.abs(default - exact)[on].max() / scale <= 2.0


# --- Large alpha and alpha near 1, against mpmath ---------------------------------------------


def mp_entmax(x, alpha, dps: int) -> list:
    """alpha-entmax of one row in ``dps``-digit mpmath: bisection on tau in [-1, 0] until the
    bracket is below ``10 ** -dps``, with ``w = (alpha - 1)(x - max x)`` exact.  An output
    ``y`` needs ``w - tau = y ** (alpha - 1)`` resolved: ``dps`` must exceed
    ``(alpha - 1) * log10(1 / y)`` by the digits wanted."""
    with mpmath.workdps(dps):
        a1 = mpmath.mpf(alpha) - 1
        xs = [mpmath.mpf(float(v)) for v in x]
        w = [a1 * (v - max(xs)) for v in xs]
        lo, hi = mpmath.mpf(-1), mpmath.mpf(0)
        for _ in range(int(3.33 * dps) + 10):
            mid = (lo + hi) / 2
            if sum((v - mid) ** (1 / a1) for v in w if v > mid) >= 1:
                lo = mid
            else:
                hi = mid
        y = [(v - lo) ** (1 / a1) if v > lo else mpmath.mpf(0) for v in w]
        return [v / sum(y) for v in y]


def test_large_alpha_is_exact_where_outputs_are_small(backend):
    # At alpha 60 the output 0.0089 needs w - tau = 0.0089 ** 59 = 1e-121: a threshold
    # bisected in float64 put 0.35 there.
    x = np.array([0.0, -0.0169, -0.5, 0.01])
    want = np.array([float(v) for v in mp_entmax(x, 60.0, 160)])
    np.testing.assert_allclose(want, [0.0089030587899746, 0, 0, 0.9910969412100254], rtol=1e-13)
    y = nps.entmax_bisect(x, 60.0)
    np.testing.assert_allclose(y, want, rtol=4 * EPS, atol=EPS)
    # The gradient there is moderate (J_00 = h_0 h_3 / (h_0 + h_3), about h_3 = 1.68):
    # against an mpmath central difference.
    t = nps.tensor(x, requires_grad=True)
    nps.entmax_bisect(t, 60.0)[0].backward()
    step = 1e-30
    plus, minus = (mp_entmax([x[0] + s, *x[1:]], 60.0, 200)[0] for s in (step, -step))
    np.testing.assert_allclose(t.grad[0], float((plus - minus) / (2 * step)), rtol=1e-12)
    np.testing.assert_allclose(t.grad, [t.grad[0], 0, 0, -t.grad[0]], rtol=1e-14)


LARGE_ALPHA_ROWS = np.random.default_rng(3).normal(0, 0.3, (8, 6))


@functools.cache
def large_alpha_oracle(alpha: float) -> np.ndarray:
    dps = int(30 + 16 * alpha)  # y >= 1e-15 resolved to 30 digits
    return np.array([[float(v) for v in mp_entmax(row, alpha, dps)] for row in LARGE_ALPHA_ROWS])


@pytest.mark.parametrize("alpha", [3.0, 8.0, 10.0, 20.0])
def test_large_alpha_random_rows_against_mpmath(backend, alpha):
    # Old float64 bisection on tau: 5e-6, 1.4e-2 and 0.12 at alpha 8, 10, 20 on such rows.
    want = large_alpha_oracle(alpha)
    got = nps.entmax_bisect(LARGE_ALPHA_ROWS, alpha)
    assert np.abs(got - want).max() <= 2 * EPS
    on = want > 1e-3
    assert (np.abs(got - want)[on] <= 32 * EPS * want[on]).all()


def test_alpha_near_one_forward_against_mpmath(backend):
    # Rounding w - tau (about 1) before the power 1 / (alpha - 1) cost eps / (alpha - 1).
    x = np.array([0.1, 0.5, -0.3, 2.0, -1.0, 7.5])
    for alpha in (1 + 1e-6, 1 + 1e-10, 1 + 1e-12):
        want = np.array([float(v) for v in mp_entmax(x, alpha, 60)])
        got = nps.entmax_bisect(x, alpha)
        # relative error of a few eps times (1 + |log y|), as softmax's own exp(x - m)
        assert (np.abs(got - want) <= 4 * EPS * want * (1 + np.abs(np.log(want)))).all()


def mp_alpha_gradient(x, g, alpha: float) -> float:
    """d <g, y> / d alpha by a central difference in 60-digit mpmath."""
    with mpmath.workdps(60):
        a = mpmath.mpf(alpha)
        h = (a - 1) * mpmath.mpf("1e-20")

        def f(aa):
            return sum(mpmath.mpf(float(gi)) * yi for gi, yi in zip(g, mp_entmax(x, aa, 60)))

        return float((f(a + h) - f(a - h)) / (2 * h))


def test_alpha_gradient_near_one_against_mpmath(backend):
    # The two O(1 / (alpha - 1)) terms of the formula cancel: evaluated as written, 1.3e-4 and
    # 6.5e-3 relative error at alpha - 1 = 1e-6 and 1e-7.
    rng = np.random.default_rng(5)
    x, g = rng.standard_normal(6), rng.standard_normal(6)
    for alpha in (1.01, 1 + 1e-4, 1 + 1e-6, 1 + 1e-7):
        a = nps.tensor(alpha, requires_grad=True)
        (nps.entmax_bisect(x, alpha=a) * nps.tensor(g)).sum().backward()
        np.testing.assert_allclose(float(a.grad), mp_alpha_gradient(x, g, alpha), rtol=1e-12)


def test_alpha_gradient_of_float32_input_is_float32_accurate(backend):
    # The float32 forward saved y rounded to float32, and the cancellation amplified that
    # rounding by 1 / (alpha - 1): 0.22 relative error at alpha 1.0001.  Against mpmath for
    # the same (float32) logits.
    rng = np.random.default_rng(6)
    x = rng.standard_normal(6).astype(np.float32)
    g = rng.standard_normal(6).astype(np.float32)
    for alpha in (1.1, 1.0001):
        a = nps.tensor(np.float32(alpha), requires_grad=True)
        (nps.entmax_bisect(x, alpha=a) * nps.tensor(g)).sum().backward()
        assert a.grad.dtype == np.float32
        want = mp_alpha_gradient(x, g, float(np.float32(alpha)))
        np.testing.assert_allclose(float(a.grad), want, rtol=4 * np.finfo(np.float32).eps)


def test_huge_n_iter_is_clamped(backend):
    # n_iter >= 2**63 overflowed the compiled kernel's loop counter (zero steps: a wrong
    # result, or an OverflowError).  More steps than convergence needs change nothing.
    x = np.array([[1.0, 2.0, -0.5], [0.3, 0.2, 0.1]])
    want = nps.entmax15(x)
    for n_iter in (2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**30):
        np.testing.assert_allclose(nps.entmax_bisect(x, 1.5, n_iter=n_iter), want, atol=1e-15)
    assert nps.nn.EntmaxBisect(n_iter=2**64).n_iter == MAX_STEPS
