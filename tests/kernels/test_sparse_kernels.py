"""The sparse-map kernel twins: same names, same results, against the oracles, on every layout.

Tolerances (absolute), with ``eps64`` float64's epsilon and ``n`` the row length:

* forward: 4 ulps of the expected value in the kernel's dtype, plus ``16 * n * eps64`` for the
  threshold's sums (the result is ``z - tau`` or a power of it; every entry of the support is
  within 1 of the maximum after the shift, so sums are of numbers of size at most 2);
  the bisection adds the threshold's sensitivity ``|dy/dtau| = h / (alpha - 1)``, ``h`` the VJP
  weight ``y ** (2 - alpha)``, times the threshold's rounding; an entry the
  oracle puts at 0 may be ``(16 n eps64) ** (1 / (alpha - 1))`` at most (the boundary);
* VJP: ``8 * eps * h * (|g| + sum(h |g|) / sum(h))`` plus the smallest subnormal (the result
  ``h * (g - ratio)`` may cancel, so the scale is that of its terms), ``eps`` of the dtype;
* the two backends: the same tolerances, against each other.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import npsoftmax.kernels as kernels
from npsoftmax.kernels import numba_sparse, reference_sparse
from tests.kernels._helpers import public_functions
from tests.naive import (
    naive_entmax15,
    naive_entmax15_vjp,
    naive_entmax_bisect,
    naive_entmax_vjp,
    naive_rows,
    naive_sparsemax,
    naive_sparsemax_vjp,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

MODULES = (reference_sparse, numba_sparse)
DTYPES = (np.float32, np.float64)
ALPHAS = (1.25, 1.5, 2.0, 3.0)
N_ITER = 60  # a cap on the Newton steps, far above the 3 to 9 that convergence takes
SENTINEL = 12345.0  # fills a fresh out, so entries a kernel forgets to write show up


def test_twin_names_equal_the_dispatched_names():
    assert public_functions(reference_sparse) == set(kernels.SPARSE_KERNEL_NAMES)
    assert public_functions(numba_sparse) == set(kernels.SPARSE_KERNEL_NAMES)


# --- Calling the kernels --------------------------------------------------------------------


def forward(module, name: str, x: np.ndarray, alpha: float | None = None) -> np.ndarray:
    out = np.full(x.shape, SENTINEL, dtype=x.dtype)
    fn = getattr(module, name)
    result = fn(x, out) if alpha is None else fn(x, alpha, N_ITER, out)
    assert result is out
    return out


def vjp(module, name: str, y: np.ndarray, g: np.ndarray, alpha: float | None = None):
    out = np.full(y.shape, SENTINEL, dtype=y.dtype)
    fn = getattr(module, name)
    result = fn(y, g, out) if alpha is None else fn(y, g, alpha, out)
    assert result is out
    return out


def oracle_forward(name: str, x: np.ndarray, alpha: float | None) -> np.ndarray:
    if name == "entmax_bisect_rows":
        return naive_rows(functools.partial(naive_entmax_bisect, alpha=alpha), x)
    return naive_rows({"sparsemax_rows": naive_sparsemax, "entmax15_rows": naive_entmax15}[name], x)


def oracle_alpha(name: str, alpha: float | None) -> float:
    return {"sparsemax_rows": 2.0, "entmax15_rows": 1.5}.get(name, alpha)


# --- Tolerances (see the module docstring) --------------------------------------------------


def forward_tolerance(expected: np.ndarray, dtype, alpha: float) -> np.ndarray:
    n = expected.shape[1]
    slack = 16 * n * np.finfo(np.float64).eps
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ulps = 4 * np.spacing(np.abs(expected.astype(dtype))).astype(np.float64)
        y = np.where(expected > 0, expected, 1.0)
        sensitivity = np.where(expected > 0, y ** (2 - alpha) / (alpha - 1), 0.0)
        at_zero = np.where(expected > 0, 0.0, slack ** (1 / (alpha - 1)))
    return ulps + slack * (1 + sensitivity) + at_zero


def vjp_tolerance(y: np.ndarray, g: np.ndarray, alpha: float) -> np.ndarray:
    yw, ga = y.astype(np.float64), np.abs(g.astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        h = np.where(yw > 0, np.where(yw > 0, yw, 1.0) ** (2 - alpha), 0.0)
        ratio = np.sum(h * ga, axis=1, keepdims=True) / np.sum(h, axis=1, keepdims=True)
        scale = h * (ga + ratio)
    finfo = np.finfo(y.dtype)
    return 8 * (float(finfo.eps) * np.nan_to_num(scale) + float(finfo.smallest_subnormal))


def assert_close(got: np.ndarray, want: np.ndarray, tol: np.ndarray, rows: np.ndarray) -> None:
    assert got.shape == want.shape
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    err = np.where(same, 0.0, np.abs(got.astype(np.float64) - want))
    bad = ~same & ~(err <= tol)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise AssertionError(
            f"entry ({i}, {j}): got {got[i, j]!r}, expected {want[i, j]!r} (|error| "
            f"{err[i, j]:.3g} > tolerance {tol[i, j]:.3g}); row {rows[i].tolist()}"
        )


# --- Layouts: the kernels take C-contiguous rows; strided input is made contiguous first ----


def _layout(kind: str, dtype) -> np.ndarray:
    rng = np.random.default_rng(len(kind))
    base = rng.normal(0.0, 1.5, (6, 8))
    x = {
        "contiguous": base,
        "from_strided": np.ascontiguousarray(base[::2, 1::2]),
        "one_column": base[:, :1].copy(),
        "zero_rows": base[:0].copy(),
        "zero_columns": base[:, :0].copy(),
        "edges": np.array(
            [
                [0.3, -np.inf, 1.0, -np.inf, 0.2],  # masks get 0
                [1.0, np.nan, 0.0, 2.0, 3.0],  # NaN -> NaN row
                [1.0, np.inf, 0.0, 2.0, 3.0],  # +inf -> NaN row
                [-np.inf] * 5,  # all -inf -> NaN row
                [1e8 + 0.5, 1e8, 1e8 - 0.25, 1e8 + 0.75, -1e8],  # offsets
                [1.0, 1.0, 1.0, 1.0, -3.0],  # ties
                [1e308, -1e308, 1e308, 0.0, -np.inf],  # spans beyond the float range
            ]
        ),
    }[kind]
    with np.errstate(over="ignore"):
        x = x.astype(dtype)
    assert x.flags.c_contiguous
    return x


LAYOUTS = ("contiguous", "from_strided", "one_column", "zero_rows", "zero_columns", "edges")
FORWARD = (
    ("sparsemax_rows", None),
    ("entmax15_rows", None),
    *(("entmax_bisect_rows", a) for a in ALPHAS),
)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "alpha"), FORWARD)
def test_forward_against_oracle_and_each_other(name, alpha, dtype, layout):
    x = _layout(layout, dtype)
    before = x.copy()
    a = oracle_alpha(name, alpha)
    expected = oracle_forward(name, x, a)
    tol = forward_tolerance(expected, dtype, a)
    results = [forward(module, name, x, alpha) for module in MODULES]
    for result in results:
        assert result.dtype == dtype
        assert_close(result, expected, tol, x)
    assert_close(results[1], results[0].astype(np.float64), tol, x)
    np.testing.assert_array_equal(x, before)  # the input is untouched (out is not x)


VJPS = (
    ("sparsemax_rows_vjp", "sparsemax_rows", None),
    ("entmax15_rows_vjp", "entmax15_rows", None),
    *(("entmax_bisect_rows_vjp", "entmax_bisect_rows", a) for a in ALPHAS),
)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "fwd", "alpha"), VJPS)
def test_vjp_against_oracle_and_each_other(name, fwd, alpha, dtype, layout):
    x = _layout(layout, dtype)
    y = forward(reference_sparse, fwd, x, alpha)
    g = np.random.default_rng(7).standard_normal(x.shape).astype(dtype)
    a = oracle_alpha(fwd, alpha)
    oracle = {"sparsemax_rows_vjp": naive_sparsemax_vjp, "entmax15_rows_vjp": naive_entmax15_vjp}
    row_oracle = oracle.get(name, functools.partial(naive_entmax_vjp, alpha=a))
    expected = naive_rows(row_oracle, y, g)
    tol = vjp_tolerance(y, g, a)
    results = [vjp(module, name, y, g, alpha) for module in MODULES]
    for result in results:
        assert result.dtype == dtype
        assert_close(result, expected, tol, y)
    assert_close(results[1], results[0].astype(np.float64), tol, y)


@pytest.mark.parametrize("module", MODULES, ids=("numpy", "numba"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "alpha"), FORWARD[:3])
def test_forward_in_place(module, name, alpha, dtype):
    x = _layout("edges", dtype)
    expected = forward(module, name, x, alpha)
    fn = getattr(module, name)
    result = fn(x, x) if alpha is None else fn(x, alpha, N_ITER, x)
    assert result is x
    np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize("module", MODULES, ids=("numpy", "numba"))
@pytest.mark.parametrize(("name", "fwd", "alpha"), VJPS[:3])
def test_vjp_in_place(module, name, fwd, alpha):
    y = forward(module, fwd, _layout("contiguous", np.float64), alpha)
    g = np.random.default_rng(3).standard_normal(y.shape)
    expected = vjp(module, name, y, g, alpha)
    fn = getattr(module, name)
    result = fn(y, g, g) if alpha is None else fn(y, g, alpha, g)
    assert result is g
    np.testing.assert_array_equal(g, expected)


@pytest.mark.parametrize("module", MODULES, ids=("numpy", "numba"))
def test_edge_policy(module):
    x = _layout("edges", np.float64)
    for name, alpha in FORWARD:
        y = forward(module, name, x, alpha)
        assert np.isnan(y[1:4]).all(), name  # NaN, +inf, all -inf
        assert not np.isnan(np.delete(y, [1, 2, 3], axis=0)).any(), name
        assert y[0, 1] == 0.0 and y[0, 3] == 0.0, name  # masks
        np.testing.assert_allclose(np.delete(y, [1, 2, 3], axis=0).sum(axis=1), 1.0, rtol=1e-14)
        g = np.ones_like(x)
        dx = vjp(module, name + "_vjp", y, g, alpha)
        assert np.isnan(dx[1:4]).all(), name
        np.testing.assert_array_equal(dx[[0, 4, 5, 6]], 0.0)  # constant g: dx = 0 exactly


@pytest.mark.parametrize("module", MODULES, ids=("numpy", "numba"))
def test_vjp_never_reads_g_off_the_support(module):
    y = np.array([[0.0, 0.25, 0.75]])
    g = np.array([[np.nan, 1.0, 2.0]])
    for name, alpha in (("sparsemax_rows_vjp", None), ("entmax15_rows_vjp", None)):
        dx = vjp(module, name, y, g, alpha)
        assert dx[0, 0] == 0.0 and np.isfinite(dx).all()
    dx = vjp(module, "entmax_bisect_rows_vjp", y, g, 2.5)
    assert dx[0, 0] == 0.0 and np.isfinite(dx).all()


@pytest.mark.parametrize("module", MODULES, ids=("numpy", "numba"))
@pytest.mark.parametrize("dtype", DTYPES)
def test_bisect_small_outputs_at_large_alpha(module, dtype):
    # Support {0, 3} (w_1 = 59 (-0.0269) < -1): y_0 + y_3 = 1 and, on the support,
    # w_3 - w_0 = y_3^59 - y_0^59 = 0.59 with y_0^59 ~ 1e-121 below float64's reach, so
    # y_0 = 1 - 0.59^(1/59) to rounding.  A threshold in float64 (w - tau rounded to 1e-16)
    # gave y_0 = 0.35.
    x = np.array([[0.0, -0.0169, -0.5, 0.01]], dtype=dtype)
    w30 = 59.0 * (np.float64(x[0, 3]) - np.float64(x[0, 0]))
    y0 = -np.expm1(np.log(w30) / 59.0)
    y = forward(module, "entmax_bisect_rows", x, 60.0)
    # y_0 comes out of sum(y) = 1: accurate to an ulp of 1 (19 ulps of y_0 itself, measured)
    want = np.array([y0, 0, 0, 1 - y0], dtype=dtype)
    np.testing.assert_allclose(y[0], want, rtol=4 * np.finfo(dtype).eps, atol=np.finfo(dtype).eps)
    # VJP of e_0: J_00 = h_0 h_3 / (h_0 + h_3) = 1 / (y_0^58 + y_3^58) with h = y^(2 - alpha);
    # h_0 = 1e119 made h (g - gbar) cancel to 0 there.
    dx = vjp(module, "entmax_bisect_rows_vjp", y, np.eye(4, dtype=dtype)[:1], 60.0)
    j00 = 1.0 / (y0**58 + (1 - y0) ** 58)
    np.testing.assert_allclose(dx[0], [j00, 0, 0, -j00], rtol=64 * np.finfo(dtype).eps)


@pytest.mark.parametrize("alpha", [1 + 1e-9, 1.01, 7.0, 300.0])
def test_bisect_twins_agree_far_from_the_usual_alphas(alpha):
    x = np.random.default_rng(9).normal(0, 2, (20, 30))
    x[0, :5] = -np.inf
    results = [forward(module, "entmax_bisect_rows", x, alpha) for module in MODULES]
    np.testing.assert_allclose(results[0], results[1], rtol=1e-13, atol=4e-16)
    np.testing.assert_allclose(results[0].sum(axis=1), 1.0, rtol=1e-14)
