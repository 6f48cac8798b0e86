"""Accuracy of the sparse-map kernels against the exact oracles of tests/naive.py.

The tests assert bounds on a small sample; ``python -m tests.kernels.test_sparse_accuracy``
measures 10**5 elements per case and prints the table quoted in
``npsoftmax/kernels/numba_sparse.py`` (a number after it sets entmax_bisect's ``n_iter``).

Oracles: sparsemax in exact rationals, 1.5-entmax in 40-digit decimals (the sorted algorithm's
quadratic), alpha-entmax by bisection to convergence in 40-digit decimals
(``naive_entmax_bisect_converged``, checked here against a plain decimal bisection and, at
alpha 1.5 and 2, against the closed forms, which replace it there).  The VJP oracles evaluate
formula (B) in 40 digits at the exact forward output rounded to the dtype.  ``entmax_bisect``
runs to convergence, its default (``N_ITER`` caps the Newton steps; 3 to 9 are taken);
``python -m tests.kernels.test_sparse_accuracy 2`` shows what 2 Newton steps leave.

Metrics (``err`` of one entry, ``eps`` of the kernel's dtype):

* ``ulps``: forward outputs on the support, in ulps of the exact value in the kernel's dtype
  (float32: against the float64 oracle itself; float64: against the correctly rounded value);
* ``units``: forward outputs, ``|y ** a1 - exact ** a1| / (eps * (|w| + |tau|))`` with
  ``w = a1 * (x - m)`` and ``tau`` the exact threshold: the error in ``max(w - tau, 0)``, in
  units of ``eps`` times the size of its terms.  ``y = max(w - tau, 0) ** (1 / a1)`` cancels
  near the support's boundary, so a kernel that rounds ``w - tau`` may be many ulps off a small
  ``y`` (1e4 to 1e7 ulps in float64 below) however well it computes ``tau``; ``units`` shows
  the kernel's own error, ulps that conditioning.  Off the support it measures how far past
  the threshold a nonzero output was put;
* VJPs: ``|dx - exact| / (eps * scale + tiny)`` with ``scale = h * (|g| + sum(h |g|) /
  sum(h))``, the size of the terms of ``dx = h * (g - ratio)``, ``h = y ** (2 - alpha)`` on the
  support (the tolerance of tests/kernels/test_sparse_kernels.py, without its factor 8);
* ``off``: entries that are exactly 0 in the exact answer (off the support) but not in the
  kernel's, counted; any is a failure on random rows.  ``units@tau`` and ``off@tau``: on rows
  with three entries moved to the exact threshold and its neighbours (:func:`at_the_threshold`),
  where either side of the threshold is within the kernels' rounding.

Legend: ``x`` logits, ``w`` scaled shifted logits, ``tau`` threshold, ``y`` output, ``g``
upstream gradient, ``h`` VJP weights, ``a1 = alpha - 1``.
"""

from __future__ import annotations

import functools
import sys
from decimal import Decimal, localcontext

import numpy as np
import pytest

from npsoftmax.functional.bisection import MAX_STEPS
from npsoftmax.kernels import numba_sparse, reference_sparse
from tests.kernels.test_accuracy import full_precision
from tests.naive import (
    _CTX,
    naive_entmax15,
    naive_entmax_bisect_converged,
    naive_entmax_vjp,
    naive_rows,
    naive_sparsemax,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

MODULES = (numba_sparse, reference_sparse)
DTYPES = (np.float32, np.float64)
# Support sizes in rows of 1000 (sparsemax / 1.5-entmax): about 100 / 680, 30 / 140, 10 / 30.
RANGES = (0.1, 1.0, 10.0)
N_ITER = MAX_STEPS  # entmax_bisect's default: Newton to convergence (a cap, not a count)
# (kernel, alpha of the kernel's call or None, alpha of the map)
FORWARD = (
    ("sparsemax_rows", None, 2.0),
    ("entmax15_rows", None, 1.5),
    *(("entmax_bisect_rows", a, a) for a in (1.25, 1.5, 2.0, 3.0)),
)
VJPS = tuple((name + "_vjp", alpha, a) for name, alpha, a in FORWARD)
# Bounds asserted on the sample, in units (float32 forward outputs are also asserted within 1
# ulp).  Measured maxima over the table's sample (numba, numpy) in the comments: float32 is
# computed in float64 and rounded once; the float64 kernels are limited by the threshold's sums
# (entmax_bisect: the sums of its support search and Newton steps).  (The float64 bisection on
# tau that entmax_bisect used before gave 27 units at alpha 3, and 16, 103 and 1570 units at
# alpha 1.5, 2, 3 with the entmax package's fixed 50 halvings.)
BOUNDS = {
    **{(n, a, np.float32): 1.0 for n, a, _ in (*FORWARD, *VJPS)},  # <= 0.87 forward, 0.45 VJP
    ("sparsemax_rows", None, np.float64): 4.0,  # 1.6, 1.0
    ("entmax15_rows", None, np.float64): 8.0,  # 4.6, 1.9
    ("entmax_bisect_rows", 1.25, np.float64): 8.0,  # 3.1, 1.1
    ("entmax_bisect_rows", 1.5, np.float64): 8.0,  # 4.9, 1.5
    ("entmax_bisect_rows", 2.0, np.float64): 12.0,  # 7.9, 2.5
    ("entmax_bisect_rows", 3.0, np.float64): 10.0,  # 4.4, 3.2
    **{(n, a, np.float64): 4.0 for n, a, _ in VJPS},  # <= 2.2
}
# Rows with entries at the threshold (see at_the_threshold); the default is 4 units.
BOUNDARY_BOUNDS = {
    # 3.4, 2.8.  The bisection on tau gave 6.7e7 here: an ulp of error in tau moved an entry at
    # the threshold from 0 to ~sqrt(eps) (y = sqrt(w - tau)), which ensure_sum_one spread over
    # the row.  The support is now decided on the sorted logits, and w - tau never rounded.
    ("entmax_bisect_rows", 3.0, np.float64): 8.0,
}


# --- Oracles and kernels --------------------------------------------------------------------


def exact_forward(x: np.ndarray, alpha: float) -> np.ndarray:
    """The exact map of ``x`` rounded to float64: rationals at alpha 2, the quadratic at 1.5."""
    row_oracle = {2.0: naive_sparsemax, 1.5: naive_entmax15}.get(alpha)
    if row_oracle is None:
        row_oracle = functools.partial(naive_entmax_bisect_converged, alpha=alpha)
    return naive_rows(row_oracle, x)


def call(module, name: str, alpha: float | None, *arrays: np.ndarray) -> np.ndarray:
    """Run kernel ``name`` with a fresh ``out`` (and ``N_ITER`` for the bisection)."""
    out = np.full(arrays[0].shape, 12345.0, dtype=arrays[0].dtype)
    fn = getattr(module, name)
    if alpha is None:
        fn(*arrays, out)
    elif name.endswith("_vjp"):
        fn(*arrays, alpha, out)
    else:
        fn(*arrays, alpha, N_ITER, out)
    return out


# --- Metrics (see the module docstring) -----------------------------------------------------


def forward_errors(y: np.ndarray, exact: np.ndarray, x: np.ndarray, alpha: float) -> dict:
    """``ulps`` (largest on the support), ``units`` (largest) and the ``off`` count of ``y``."""
    dtype = y.dtype
    a1 = alpha - 1.0
    r = y.astype(np.float64)
    on = exact > 0
    err = np.where(on, np.abs(r - exact), 0.0)
    ulps = err / np.spacing(np.where(on, exact, 1.0).astype(dtype)).astype(np.float64)
    # The exact threshold from the row's largest output (where w = 0): tau = -max(y) ** a1.
    tau = np.max(exact, axis=1, keepdims=True) ** a1
    xw = x.astype(np.float64)
    w = a1 * (xw - np.max(xw, axis=1, keepdims=True))
    units = np.abs(r**a1 - exact**a1) / (float(np.finfo(dtype).eps) * (np.abs(w) + tau))
    return {
        "ulps": float(ulps.max(initial=0.0)),
        "units": float(units.max(initial=0.0)),
        "off": int(np.count_nonzero(~on & (r != 0.0))),
    }


def vjp_errors(dx: np.ndarray, exact: np.ndarray, y: np.ndarray, g: np.ndarray, alpha: float):
    """``units`` (largest) and the ``off`` count of one VJP result."""
    finfo = np.finfo(dx.dtype)
    yw, ga = y.astype(np.float64), np.abs(g.astype(np.float64))
    on = yw > 0
    h = np.where(on, np.where(on, yw, 1.0) ** (2.0 - alpha), 0.0)
    ratio = np.sum(h * ga, axis=1, keepdims=True) / np.sum(h, axis=1, keepdims=True)
    unit = float(finfo.eps) * h * (ga + ratio) + float(finfo.smallest_subnormal)
    units = np.abs(dx.astype(np.float64) - exact) / unit
    return {
        "units": float(units.max(initial=0.0)),
        "off": int(np.count_nonzero(~on & (dx != 0.0))),
    }


def at_the_threshold(x: np.ndarray, exact: np.ndarray, alpha: float) -> np.ndarray:
    """``x`` with each row's three smallest entries (off the support) moved to the exact
    threshold ``m + tau / (alpha - 1)`` rounded to the dtype, and to its two neighbours.

    The answer hardly changes (entries at the threshold get 0 or almost 0), but whether these
    entries are in the support is decided by the last bits of the computed threshold.
    """
    ftype = x.dtype.type
    tau = -(np.max(exact, axis=1) ** (alpha - 1.0))
    at = (x.max(axis=1).astype(np.float64) + tau / (alpha - 1.0)).astype(x.dtype)
    x = x.copy()
    for i, t in enumerate(at):
        below, above = np.nextafter(t, ftype(-np.inf)), np.nextafter(t, ftype(np.inf))
        x[i, np.argsort(x[i])[:3]] = (below, t, above)
    return x


def measure(dtype, bound: float, shape=(100, 1000), seed: int = 0, boundary=False) -> dict:
    """``{(kernel, alpha): [errors of each module of MODULES]}`` on random rows (with
    ``boundary``: rows with entries at the threshold, see :func:`at_the_threshold`)."""
    rng = np.random.default_rng(seed)
    x0 = full_precision(rng, bound, shape, dtype)
    g = rng.standard_normal(shape).astype(dtype)
    results = {}
    for (name, alpha, a), (vjp_name, _, _) in zip(FORWARD, VJPS):
        exact = exact_forward(x0, a)
        x = x0
        if boundary:
            x = at_the_threshold(x0, exact, a)
            exact = exact_forward(x, a)
        results[name, alpha] = [
            forward_errors(call(module, name, alpha, x), exact, x, a) for module in MODULES
        ]
        saved = exact.astype(dtype)  # VJPs at the exact forward output rounded to the dtype
        exact_dx = naive_rows(functools.partial(naive_entmax_vjp, alpha=a), saved, g)
        results[vjp_name, alpha] = [
            vjp_errors(call(module, vjp_name, alpha, saved, g), exact_dx, saved, g, a)
            for module in MODULES
        ]
    return results


# --- Tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bound", RANGES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_accuracy_bounds(dtype, bound):
    for (name, alpha), per_module in measure(dtype, bound, (4, 200), int(10 * bound)).items():
        for module, errors in zip(MODULES, per_module):
            where = f"{module.__name__}.{name} alpha={alpha} {dtype.__name__} range {bound}"
            assert errors["off"] == 0, where
            assert errors["units"] <= BOUNDS[name, alpha, dtype], where
            if dtype == np.float32 and "ulps" in errors:
                assert errors["ulps"] <= 1.0, where


@pytest.mark.parametrize("dtype", DTYPES)
def test_accuracy_at_the_threshold(dtype):
    # Entries within an ulp of the threshold may land on either side of the computed one
    # (off-support entries then get a tiny positive output, counted in the table's "off"), but
    # only by the threshold's own error: the units stay bounded.
    for key, per_module in measure(dtype, 1.0, (4, 100), 1, boundary=True).items():
        for module, errors in zip(MODULES, per_module):
            where = f"{module.__name__}.{key} {dtype.__name__}"
            assert errors["units"] <= BOUNDARY_BOUNDS.get((*key, dtype), 4.0), where


def _bisect_to_convergence(row: np.ndarray, alpha: float) -> np.ndarray:
    """alpha-entmax by 150 halvings of ``[-1, 0]`` in 40-digit decimals (no floats, no Newton)."""
    with localcontext(_CTX):
        a1 = Decimal(alpha) - 1
        beta = 1 / a1
        m = max(Decimal(float(v)) for v in row)
        w = [a1 * (Decimal(float(v)) - m) for v in row]
        lo, hi = Decimal(-1), Decimal(0)
        for _ in range(150):  # 2 ** -150 < 1e-45: the bracket is below 40 digits
            mid = (lo + hi) / 2
            if sum(((v - mid) ** beta for v in w if v > mid), Decimal(0)) >= 1:
                lo = mid
            else:
                hi = mid
        return np.array([float((v - lo) ** beta) if v > lo else 0.0 for v in w])


@pytest.mark.parametrize("alpha", [1.25, 1.75, 3.0])
def test_bisection_oracle_is_exact(alpha):
    # The oracle (float bisection to bracket, then decimal bisection) agrees with a plain
    # 40-digit bisection from [-1, 0] to the last bit on random rows.  With entries at the
    # threshold (alpha 3), one may get y ~ 1e-14 from w - tau ~ 1e-28, whose last bits need
    # more than 40 digits of tau: there they agree in w - tau = y ** (alpha - 1), the
    # quantity the metric "units" measures, to 1e-35.
    x = full_precision(np.random.default_rng(5), 1.0, (3, 12), np.float64)
    want = np.array([_bisect_to_convergence(row, alpha) for row in x])
    np.testing.assert_array_max_ulp(exact_forward(x, alpha), want, maxulp=1)
    x = at_the_threshold(x, want, alpha)
    want = np.array([_bisect_to_convergence(row, alpha) for row in x])
    got = exact_forward(x, alpha)
    np.testing.assert_allclose(got ** (alpha - 1), want ** (alpha - 1), rtol=1e-15, atol=1e-35)


@pytest.mark.parametrize("alpha", [1.5, 2.0])
def test_bisection_oracle_agrees_with_the_closed_forms(alpha):
    x = full_precision(np.random.default_rng(6), 1.0, (3, 50), np.float64)
    got = naive_rows(functools.partial(naive_entmax_bisect_converged, alpha=alpha), x)
    np.testing.assert_array_max_ulp(got, exact_forward(x, alpha), maxulp=1)


# --- The table ------------------------------------------------------------------------------


def _cell(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3g}" if v < 1e3 else f"{v:.1e}".replace("e+0", "e")


def table(n_iter: int = N_ITER) -> str:
    """The accuracy table of numba_sparse's docstring: on random rows, the largest error over
    the three ranges, 10**5 elements (rows of 1000) each; at the threshold, 10**4 elements
    (rows of 100, range 1, three entries per row moved to the threshold)."""
    global N_ITER
    N_ITER = n_iter
    cols = (("random", "ulps"), ("random", "units"), ("boundary", "units"), ("boundary", "off"))
    labels = ("ulps", "units", "units@tau", "off@tau")
    head1 = f"{'':<22} {'':>5} {'':<7}" + "".join(f" {lab:^13}" for lab in labels)
    head2 = f"{'kernel':<22} {'alpha':>5} {'dtype':<7}" + " numba  numpy" * len(cols)
    lines = [head1.rstrip(), head2, "-" * len(head2)]
    off_random = 0
    for dtype in DTYPES:
        worst: dict = {}
        runs = [("random", measure(dtype, bound, seed=int(10 * bound))) for bound in RANGES]
        runs.append(("boundary", measure(dtype, 1.0, (100, 100), 1, boundary=True)))
        for kind, results in runs:
            for key, per_module in results.items():
                for i, errors in enumerate(per_module):
                    for c, v in errors.items():
                        worst[(*key, kind, c, i)] = max(worst.get((*key, kind, c, i), 0), v)
                    off_random += errors["off"] if kind == "random" else 0
        for name, alpha, a in (*FORWARD, *VJPS):
            cells = ""
            for kind, c in cols:
                for i in range(len(MODULES)):
                    v = worst.get((name, alpha, kind, c, i))
                    cells += f" {_cell(v):>6}"
            lines.append(f"{name:<22} {a:>5g} {dtype.__name__:<7}" + cells)
    lines.append(
        f"(n_iter = {n_iter}; nonzero outputs off the support on random rows: {off_random})"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(*(int(a) for a in sys.argv[1:2])))
