"""Where the float32 exponential's polynomial comes from: a Remez exchange, in float64.

``npsoftmax.kernels.numba_exp`` evaluates ``exp(r) ~ 1 + r + r**2 * q(r)`` on the reduced range
``|r| <= ln2 / 2`` with ``q`` of degree 4.  Its coefficients minimise the largest *relative* error
``|p(r) / exp(r) - 1|``: with ``g(r) = (exp(r) - 1 - r) / r**2`` and the weight
``w(r) = r**2 / exp(r)``, the error is ``w * (q - g)``, and the Remez exchange finds the ``q``
whose weighted error equioscillates on six points (degree + 2).  float64 is ample for a fit
whose error is about ``2**-30``.

Run ``python -m tests.kernels.exp_minimax`` to print the coefficients (rounded to float32, as
numba_exp holds them) and the fit's error; ``test_numba_exp.py`` checks that numba_exp's
constants are exactly these.
"""

from __future__ import annotations

import numpy as np

HALF_LN2 = float(np.log(2.0) / 2.0)


def _g(r):
    """``(exp(r) - 1 - r) / r**2``, accurate near 0 (where ``expm1(r) - r`` cancels)."""
    r = np.asarray(r, dtype=np.float64)
    out = np.empty_like(r)
    small = np.abs(r) < 1e-2
    rs = r[small]
    # Taylor series, terms to r**6 / 8!: remainder below 1e-17 for |r| < 1e-2.
    out[small] = 1 / 2 + rs * (1 / 6 + rs * (1 / 24 + rs * (1 / 120 + rs * (1 / 720 + rs / 5040))))
    rb = r[~small]
    out[~small] = (np.expm1(rb) - rb) / rb**2
    return out


def _weight(r):
    return r**2 / np.exp(r)


def _alternating_extrema(r, err, count):
    """``count`` alternating-sign points among the local extrema of ``err``, the largest kept."""
    interior = (np.abs(err[1:-1]) >= np.abs(err[:-2])) & (np.abs(err[1:-1]) >= np.abs(err[2:]))
    idx = np.concatenate(([0], np.flatnonzero(interior) + 1, [len(r) - 1]))
    # Merge runs of equal sign, keeping the largest of each run.
    merged = [idx[0]]
    for i in idx[1:]:
        if np.sign(err[i]) == np.sign(err[merged[-1]]):
            if abs(err[i]) > abs(err[merged[-1]]):
                merged[-1] = i
        else:
            merged.append(i)
    # Too many: drop the smaller end point until `count` are left (alternation is kept).
    while len(merged) > count:
        if abs(err[merged[0]]) < abs(err[merged[-1]]):
            merged.pop(0)
        else:
            merged.pop()
    return np.array(merged)


def remez(degree=4, half_width=HALF_LN2, iterations=30, grid=200_001):
    """Coefficients ``q_0..q_degree`` (ascending powers) and the fit's max relative error."""
    r = np.linspace(-half_width, half_width, grid)
    g, w = _g(r), _weight(r)
    n = degree + 2
    # Start from the Chebyshev extrema, skipping r = 0 where the weight vanishes.
    ref = half_width * np.cos(np.pi * (np.arange(n) + 0.5) / n)[::-1]
    for _ in range(iterations):
        # q(r_k) - (-1)**k E / w(r_k) = g(r_k), for the coefficients and the level E.
        a = np.vander(ref, degree + 1, increasing=True)
        a = np.column_stack([a, -((-1.0) ** np.arange(n)) / _weight(ref)])
        sol = np.linalg.solve(a, _g(ref))
        coef = sol[:-1]
        err = w * (np.polynomial.polynomial.polyval(r, coef) - g)
        new = r[_alternating_extrema(r, err, n)]
        if len(new) < n or np.allclose(new, ref, rtol=0, atol=1e-12):
            break
        ref = new
    return coef, float(np.max(np.abs(err)))


def float32_coefficients():
    """The fit's coefficients rounded to float32, highest power first (as numba_exp names them)."""
    coef, _ = remez()
    return tuple(np.float32(c) for c in coef[::-1])


if __name__ == "__main__":
    coef, level = remez()
    print(f"relative error of the exact-coefficient fit: {level:.3e} ({np.log2(level):.1f} bits)")
    for i, c in enumerate(float32_coefficients()):
        print(f"Q{i} = {c!r}  ({float(c):.10e})")
    r = np.linspace(-HALF_LN2, HALF_LN2, 200_001)
    q = np.polynomial.polynomial.polyval(r, [float(c) for c in float32_coefficients()[::-1]])
    rounded = np.max(np.abs(_weight(r) * (q - _g(r))))
    print(f"with float32 coefficients: {rounded:.3e} ({np.log2(rounded):.1f} bits)")
