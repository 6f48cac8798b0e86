"""Shared pieces of the kernel tests: the two backends, calling a kernel, errors and tolerances.

Tolerances, stated as ulps of the expected value in the result's dtype, or as ``eps`` times
the size of the terms where a result may cancel:

* kernel vs the oracle: ``ORACLE_ULPS = 4`` ulps, plus, for float64, what rounding ``x - m`` to
  float64 costs (``exp`` turns an absolute error of ``|x - m| * eps / 2`` in its argument into a
  relative one): ``eps * y_j * (|x_j - m| + D)`` for softmax and ``eps * D`` for log_softmax and
  logsumexp, where ``D = sum_k y_k |x_k - m|`` (float32 rows are computed in float64, where this
  is far below a float32 ulp); logsumexp also ``4 * eps * |lse - m|``, since it adds the
  log-sum to ``m`` and that may cancel;
* numba vs numpy: ``PARITY_ULPS = 4`` ulps (logsumexp: also ``4 * eps * |lse - m|``);
* VJPs, against the oracle and each other: ``VJP_UNITS = 8`` times ``eps * scale`` with
  ``scale = y * (|g| + sum|g * y|)`` (softmax) or ``|g| + exp(ls) * sum|g|`` (log_softmax),
  plus the smallest subnormal (times ``sum|g|`` for log_softmax, whose ``exp(ls)`` may
  underflow).
"""

from __future__ import annotations

import numpy as np

from npsoftmax.kernels import numba_cpu, reference
from tests.naive import (
    naive_log_softmax,
    naive_log_softmax_vjp,
    naive_logsumexp,
    naive_rows,
    naive_softmax,
    naive_softmax_vjp,
)

ORACLE_ULPS = 4
PARITY_ULPS = 4
VJP_UNITS = 8

MODULES = (reference, numba_cpu)
MODULE_IDS = ("numpy", "numba")
DTYPES = (np.float32, np.float64)
# Every name in npsoftmax.kernels.KERNEL_NAMES, by calling convention (test_kernels checks).
SOFTMAX = ("softmax_rows", "online_softmax_rows")  # two algorithms, one answer
FORWARD = (*SOFTMAX, "log_softmax_rows", "logsumexp_rows")
VJP = ("softmax_rows_vjp", "log_softmax_rows_vjp")
LOSS = ("cross_entropy_rows", "weighted_softmax_rows")  # a per-row argument: test_loss_kernels
ORACLE = {
    "softmax_rows": naive_softmax,
    "online_softmax_rows": naive_softmax,
    "log_softmax_rows": naive_log_softmax,
    "logsumexp_rows": naive_logsumexp,
    "softmax_rows_vjp": naive_softmax_vjp,
    "log_softmax_rows_vjp": naive_log_softmax_vjp,
}
SENTINEL = 12345.0  # what `run` fills a fresh out with, so unwritten entries show


def public_functions(module) -> set[str]:
    """The names of the functions a module defines and does not mark private."""
    return {
        name
        for name, value in vars(module).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", None) == module.__name__
    }


def run(module, name: str, *arrays: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Call kernel ``name`` of ``module`` with a fresh ``out`` (or the given one); check it."""
    x = arrays[0]
    if out is None:
        shape = x.shape[:1] if name == "logsumexp_rows" else x.shape
        out = np.full(shape, SENTINEL, dtype=x.dtype)
    result = getattr(module, name)(*arrays, out)
    assert result is out
    return out


def oracle(name: str, *arrays: np.ndarray) -> np.ndarray:
    """The float64 oracle (tests/naive.py) of kernel ``name``, in the kernel's output shape."""
    return naive_rows(ORACLE[name], *arrays)


def warm_up() -> None:
    """Compile (or load from the cache) every Numba kernel for both dtypes.

    Call it before Hypothesis tests so that compilation does not count against a deadline.
    """
    for dtype in DTYPES:
        x = np.zeros((2, 3), dtype)
        for name in FORWARD:
            run(numba_cpu, name, x)
        for name in VJP:
            run(numba_cpu, name, x, x)


# --- Errors


def _agree(r: np.ndarray, e: np.ndarray, err: np.ndarray) -> np.ndarray:
    """Set ``err`` to 0 where ``r`` and ``e`` are equal or both NaN, to inf where one is NaN."""
    err[(r == e) | (np.isnan(r) & np.isnan(e))] = 0.0
    err[np.isnan(err)] = np.inf
    return err


def ulp_error(result: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``|result - expected|`` in ulps of ``expected`` rounded to ``result``'s dtype.

    0 where both are NaN or both are the same infinity; inf where only one is NaN or infinite.
    ``expected`` may be float64 for a float32 ``result`` (then it is not rounded first).
    """
    r = result.astype(np.float64)
    e = np.asarray(expected, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        ulp = np.spacing(np.abs(e.astype(result.dtype))).astype(np.float64)
        return _agree(r, e, np.abs(r - e) / ulp)


def tolerance_error(result: np.ndarray, expected: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """``|result - expected| / tol`` (pass: <= 1), with NaN/inf agreement as in ulp_error."""
    r = result.astype(np.float64)
    e = np.asarray(expected, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return _agree(r, e, np.abs(r - e) / tol)


# --- Tolerances (see the module docstring)


def _ulp(expected: np.ndarray, dtype) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return np.spacing(np.abs(expected.astype(dtype))).astype(np.float64)


def shift_sizes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(m, |x - m|, D)`` in float64: row max, distance to it (0 where not finite), and
    ``D = sum_k y_k |x_k - m|`` (0 for rows without a finite max)."""
    x = x.astype(np.float64)
    if x.shape[1] == 0:
        return np.full(len(x), -np.inf), np.zeros(x.shape), np.zeros(len(x))
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        m = np.max(x, axis=1)
        d = np.abs(x - m[:, None])
        d = np.where(np.isfinite(d), d, 0.0)
        e = np.where(np.isfinite(m)[:, None] & (x > -np.inf), np.exp(-d), 0.0)
        y = e / np.maximum(e.sum(axis=1, keepdims=True), 1.0)
    return m, d, np.sum(y * d, axis=1)


def forward_tolerance(name: str, x: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Absolute tolerance of a forward kernel's result against the oracle's ``expected``."""
    eps, eps64 = float(np.finfo(x.dtype).eps), float(np.finfo(np.float64).eps)
    m, d, big_d = shift_sizes(x)
    tol = ORACLE_ULPS * _ulp(expected, x.dtype)
    with np.errstate(invalid="ignore"):
        if name in SOFTMAX:
            return tol + eps64 * np.abs(expected) * (d + big_d[:, None])
        if name == "log_softmax_rows":
            return tol + eps64 * big_d[:, None]
        return tol + eps64 * big_d + ORACLE_ULPS * eps * np.abs(expected - m)


def parity_tolerance(name: str, x: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute tolerance between the two backends' results (``b`` is one of them)."""
    tol = PARITY_ULPS * _ulp(b, x.dtype)
    if name == "logsumexp_rows":
        m, _, _ = shift_sizes(x)
        with np.errstate(invalid="ignore"):
            tol = tol + PARITY_ULPS * float(np.finfo(x.dtype).eps) * np.abs(b - m)
    return tol


def vjp_tolerance(name: str, saved: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Absolute tolerance of a VJP: VJP_UNITS * (eps * scale + tiny * (1 + underflow)).

    ``tiny`` is the smallest subnormal: every rounding may cost half of it.  The log_softmax VJP
    also multiplies ``exp(ls)``, which may be rounded to a subnormal (or to 0) in the dtype, by
    ``sum(g)``: ``underflow = sum|g|`` for it.
    """
    finfo = np.finfo(saved.dtype)
    s = saved.astype(np.float64)
    a = np.abs(g.astype(np.float64))
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(a, axis=1, keepdims=True)
        if name == "softmax_rows_vjp":
            scale = s * (a + np.sum(a * s, axis=1, keepdims=True))
            underflow = 0.0
        else:
            scale = a + np.exp(s) * total
            underflow = total
        tiny = float(finfo.smallest_subnormal)
        return VJP_UNITS * (float(finfo.eps) * scale + tiny * (1.0 + underflow))


# --- Assertions


def _explain(err: np.ndarray, got: np.ndarray, want: np.ndarray, arrays, what: str) -> str:
    bad = tuple(int(i) for i in np.argwhere(~(err <= 1.0))[0])
    rows = [a[bad[0]].tolist() for a in arrays]
    return (
        f"error {err[bad]:.3g} x the tolerance at {bad}: got {got[bad]!r}, {what} "
        f"{want[bad]!r}; input row(s) {rows}"
    )


def assert_matches_oracle(name: str, result: np.ndarray, *arrays: np.ndarray) -> None:
    """Assert that a kernel's ``result`` for ``arrays`` agrees with the oracle."""
    expected = oracle(name, *arrays)
    assert result.shape == expected.shape
    if name in VJP:
        tol = vjp_tolerance(name, *arrays)
    else:
        tol = forward_tolerance(name, arrays[0], expected)
    err = tolerance_error(result, expected, tol)
    assert np.all(err <= 1.0), _explain(err, result, expected, arrays, "the oracle says")


def assert_backends_agree(name: str, a: np.ndarray, b: np.ndarray, *arrays: np.ndarray) -> None:
    """Assert that two backends' results agree (NaN and inf in the same places)."""
    assert a.shape == b.shape and a.dtype == b.dtype
    if name in VJP:
        tol = vjp_tolerance(name, *arrays)
    else:
        tol = parity_tolerance(name, arrays[0], b)
    err = tolerance_error(a, b, tol)
    assert np.all(err <= 1.0), _explain(err, a, b, arrays, "the other backend says")
