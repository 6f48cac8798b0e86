"""Accuracy of the kernels in ulps against the 40-digit oracle of tests/naive.py.

The tests assert bounds on a small sample; ``python -m tests.kernels.test_accuracy`` measures
10**5 elements per case and prints the table quoted in ``npsoftmax/kernels/numba_cpu.py``.

Metrics (``err`` of one entry):

* forward kernels: ulps of the exact value in the kernel's dtype (float32: against the float64
  oracle itself; float64: against the correctly rounded value, so half an ulp is slack);
* VJPs: ``|dx - exact| / (eps * scale)`` with the scales of tests/kernels/_helpers.py, because
  ``g - sum(...)`` may cancel.

Inputs have fully random mantissas (see :func:`full_precision`): then ``x - m`` is rounded, and
exp turns that into up to ``|x - m|`` ulps of float64 error unless the kernel corrects it with
TwoSum, as all of them now do (before: 66 ulps on [-50, 50] and 514 on [-1e3, 1e3]).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

from npsoftmax.kernels import numba_cpu, numba_rows, reference
from tests.kernels._helpers import VJP_UNITS, oracle, run, ulp_error, vjp_tolerance

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

# 10: every exp(x - m) is a normal number (the fast exponential); 50 and 1000 reach subnormals
# and zeros (the exact path).
RANGES = (10.0, 50.0, 1000.0)
FORWARD = ("softmax_rows", "online_softmax_rows", "log_softmax_rows", "logsumexp_rows")
VJPS = (("softmax_rows_vjp", "softmax_rows"), ("log_softmax_rows_vjp", "log_softmax_rows"))
# The fused cross-entropy's two kernels: an entry of log_softmax (negated) and a weighted softmax.
LOSS = ("cross_entropy_rows", "weighted_softmax_rows")
# Bounds asserted on the sample; the measured maxima over 10**5 elements (numba, numpy) are in
# the comments and in numba_cpu's docstring.
BOUNDS = {
    # (kernel, dtype): ulps (VJPs: units of eps * scale)
    ("softmax_rows", np.float32): 3.0,  # 1.7 (float32 e stored, times 1/s), 0.5
    ("softmax_rows", np.float64): 8.0,  # 4, 4
    ("online_softmax_rows", np.float32): 1.0,  # 0.5, 0.5
    ("online_softmax_rows", np.float64): 8.0,  # 3, 4
    ("log_softmax_rows", np.float32): 1.5,  # 0.8, 0.5
    ("log_softmax_rows", np.float64): 4.0,  # 2, 2
    ("logsumexp_rows", np.float32): 1.0,  # 0.5, 0.5
    ("logsumexp_rows", np.float64): 2.0,  # 1, 1
    ("softmax_rows_vjp", np.float32): 1.0,  # 0.5, 0.5
    ("softmax_rows_vjp", np.float64): 8.0,  # 1.9, 2.1
    ("log_softmax_rows_vjp", np.float32): 1.0,  # 0.5, 0.5
    ("log_softmax_rows_vjp", np.float64): 2.0,  # 0.9, 1.0
    ("cross_entropy_rows", np.float32): 1.0,  # 0.5, 0.5
    ("cross_entropy_rows", np.float64): 2.0,  # 1, 1
    ("weighted_softmax_rows", np.float32): 3.0,  # 1.7, 0.5 (as softmax: e stored in float32)
    ("weighted_softmax_rows", np.float64): 8.0,  # 4, 4
}


def full_precision(rng: np.random.Generator, bound: float, shape, dtype) -> np.ndarray:
    """Uniform values in ``[-bound, bound]`` whose mantissas are fully random.

    ``rng.uniform(-50, 50)`` gives float64 values on a coarse grid (the offset rounds their low
    bits away), which makes ``x - max(x)`` exact and hides its rounding: flip the low 24 bits.
    """
    x = rng.uniform(-bound, bound, shape)
    noise = rng.integers(0, 2**24, shape, dtype=np.uint64)
    return (x.view(np.uint64) ^ noise).view(np.float64).astype(dtype)


def measure(modules, dtype, bound: float, shape=(100, 1000), seed: int = 0) -> list[dict]:
    """The largest error of each kernel of each module on random rows (see the module doc)."""
    rng = np.random.default_rng(seed)
    x = full_precision(rng, bound, shape, dtype)
    g = rng.standard_normal(shape).astype(dtype)
    exact = {name: oracle(name, x) for name in ("softmax_rows", "log_softmax_rows")}
    exact["online_softmax_rows"] = exact["softmax_rows"]
    exact["logsumexp_rows"] = oracle("logsumexp_rows", x)
    # VJPs at the exact forward output rounded to the dtype, and a standard normal g.
    saved = {name: exact[forward].astype(dtype) for name, forward in VJPS}
    for name, _ in VJPS:
        exact[name] = oracle(name, saved[name], g)
    t = rng.integers(0, shape[1], shape[0]).astype(np.intp)
    w = rng.standard_normal(shape[0])
    exact["cross_entropy_rows"] = -exact["log_softmax_rows"][np.arange(shape[0]), t]
    exact["weighted_softmax_rows"] = w[:, None] * exact["softmax_rows"]
    results = []
    for module in modules:
        errors = {}
        for name in FORWARD:
            errors[name] = float(ulp_error(run(module, name, x), exact[name]).max())
        loss = module.cross_entropy_rows(x, t, np.empty(shape[0], dtype))
        errors["cross_entropy_rows"] = float(ulp_error(loss, exact["cross_entropy_rows"]).max())
        y = module.weighted_softmax_rows(x, w, np.empty_like(x))
        errors["weighted_softmax_rows"] = float(ulp_error(y, exact["weighted_softmax_rows"]).max())
        for name, _ in VJPS:
            units = vjp_tolerance(name, saved[name], g) / VJP_UNITS  # eps * scale (+ tiny)
            dx = run(module, name, saved[name], g).astype(np.float64)
            errors[name] = float((np.abs(dx - exact[name]) / units).max())
        results.append(errors)
    return results


@pytest.mark.parametrize("bound", RANGES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accuracy_bounds(dtype, bound):
    modules = (reference, numba_cpu)
    for module, errors in zip(modules, measure(modules, dtype, bound, (8, 500), int(bound))):
        for (name, dt), limit in BOUNDS.items():
            if dt == dtype:
                assert errors[name] <= limit, f"{module.__name__}.{name} {dt.__name__}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_long_row(dtype):
    # One row of 20000: float32 sums are taken in float64, and float64 sums with several
    # accumulators (numba) or pairwise (numpy), so the error hardly grows with the row length.
    x = full_precision(np.random.default_rng(3), 3.0, (1, 20000), dtype)
    for name in ("softmax_rows", "log_softmax_rows", "logsumexp_rows"):
        exact = oracle(name, x)
        for module in (reference, numba_cpu):
            err = ulp_error(run(module, name, x), exact)
            assert err.max() <= 4.0, f"{module.__name__}.{name}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_dominated_by_their_maximum(dtype):
    # The log-space kernels take log(s) of the plain sum s = 1 + t when s >= LOG_SUM_FLOOR and
    # sum t apart otherwise (numba_rows._log_sum): rows whose other entries hold a mass t on
    # both sides of that floor, checked where it matters most (the maximum's log-probability
    # -log1p(t), its loss, the row's logsumexp).
    floor = numba_rows.LOG_SUM_FLOOR_F32 if dtype == np.float32 else numba_rows.LOG_SUM_FLOOR_F64
    masses = [(floor - 1.0) * f for f in (1e-6, 0.25, 0.9, 1.1, 4.0)]
    rng = np.random.default_rng(11)
    n = 1000
    x = full_precision(rng, 0.5, (len(masses), n), np.float64)
    x[:, 0] = 0.0
    x[:, 1:] += np.log(np.array(masses)[:, None] / (n - 1)) - 0.5  # below the maximum 0
    x = x.astype(dtype)
    t = np.zeros(len(masses), dtype=np.intp)  # the maximum as the target
    exact = {name: oracle(name, x) for name in ("log_softmax_rows", "logsumexp_rows")}
    exact["cross_entropy_rows"] = -exact["log_softmax_rows"][:, 0]
    for module in (reference, numba_cpu):
        got = {name: run(module, name, x) for name in ("log_softmax_rows", "logsumexp_rows")}
        got["cross_entropy_rows"] = module.cross_entropy_rows(x, t, np.empty(len(masses), dtype))
        for name, value in got.items():
            err = ulp_error(value, exact[name])
            assert err.max() <= BOUNDS[name, dtype], f"{module.__name__}.{name}: {err.max()}"


def _rows_near_lse_zero(rng: np.random.Generator, n: int, rows: int, dtype) -> np.ndarray:
    """Rows of ``n`` whose logsumexp is near 0: ``m`` close to ``-log(sum(exp(x - m)))``.

    Random rows shifted by a factor in [0.9, 1.1] of their own logsumexp (from SciPy, in
    float64), so that the results lie within a tenth of it on both sides of 0.
    """
    x = full_precision(rng, 1.0 if n < 10 else 3.0, (rows, n), np.float64)
    f = rng.uniform(0.9, 1.1, (rows, 1))
    return (x - f * sp.logsumexp(x, axis=1, keepdims=True)).astype(dtype)


def test_float32_logsumexp_near_zero_keeps_its_relative_accuracy():
    # m + log(s) cancels there: float32 exponentials (each within about half a float32 ulp)
    # summed in float64 gave hundreds of ulps (102 at the row below), so the numba kernel sums
    # such rows again with float64 exponentials; the reference computes float32 in float64.
    rng = np.random.default_rng(5)
    x = [np.array([[-0.987023115158081, -0.468654066324234]], np.float32)]
    x += [_rows_near_lse_zero(rng, n, rows, np.float32) for n, rows in ((2, 300), (3, 100))]
    x += [_rows_near_lse_zero(rng, n, rows, np.float32) for n, rows in ((10, 30), (1000, 3))]
    for xi in x:
        exact = oracle("logsumexp_rows", xi)
        assert np.median(np.abs(exact / xi.max(axis=1))) < 0.2  # m + log(s) does cancel
        for module in (reference, numba_cpu):
            err = ulp_error(run(module, "logsumexp_rows", xi), exact)
            assert err.max() <= BOUNDS["logsumexp_rows", np.float32], (
                f"{module.__name__} n={xi.shape[1]}: {err.max():.1f} ulps"
            )


def test_float64_logsumexp_near_zero_has_an_absolute_error_bound():
    # The documented float64 bound (numba_cpu's Accuracy notes, reference.logsumexp_rows): an
    # absolute error of about eps * max(1, log n), not a relative one, as in SciPy.
    rng = np.random.default_rng(6)
    eps = np.finfo(np.float64).eps
    for n, rows in ((2, 300), (10, 30), (1000, 3)):
        x = _rows_near_lse_zero(rng, n, rows, np.float64)
        exact = oracle("logsumexp_rows", x)
        bound = 2 * eps * max(1.0, np.log(n))
        for module in (reference, numba_cpu):
            err = np.abs(run(module, "logsumexp_rows", x) - exact).max()
            assert err <= bound, f"{module.__name__} n={n}: {err / eps:.2f} eps"
        assert np.abs(sp.logsumexp(x, axis=1) - exact).max() <= bound  # SciPy: the same bound


def table() -> str:
    """The accuracy table of numba_cpu's docstring: 10**5 elements (rows of 1000) per case."""
    head = f"{'kernel':<22} {'dtype':<8} {'range':>6} {'numba':>7} {'numpy':>7}"
    lines = [head, "-" * len(head)]
    measured = {
        (dtype, bound): measure((numba_cpu, reference), dtype, bound)
        for dtype in (np.float32, np.float64)
        for bound in RANGES
    }
    for name in (*FORWARD, *(n for n, _ in VJPS), *LOSS):
        for (dtype, bound), (nb, ref) in measured.items():
            lines.append(
                f"{name:<22} {dtype.__name__:<8} {bound:>6g} {nb[name]:>7.2f} {ref[name]:>7.2f}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
