"""The 40-digit oracle itself: ``_ln1p`` keeps 40 digits of a tiny sum, quickly."""

from __future__ import annotations

from decimal import Context, Decimal

import numpy as np

from tests.kernels._helpers import MODULES, assert_matches_oracle, run
from tests.naive import PREC, _ln1p, naive_log_softmax


def _ln1p_raised(t: Decimal) -> Decimal:
    """ln(1 + t) with the precision raised by t's leading zeros (the slow, exact way)."""
    ctx = Context(prec=PREC + max(0, -t.adjusted()), traps=[])
    return ctx.ln(ctx.add(1, t))


def test_ln1p_of_a_tiny_sum_is_its_series_to_40_digits():
    for exponent in (-41, -60, -300):
        t = Decimal(f"3.14159265358979323846264338327950288419716939937510e{exponent}")
        got, exact = _ln1p(t), _ln1p_raised(t)
        assert abs(got - exact) <= abs(exact) * Decimal(10) ** -PREC


def test_a_row_with_an_astronomically_small_sum():
    # t = exp(-1e5) * (1 + exp(1e-300)): 43 430 leading zeros.  Raising the precision by all of
    # them made this one row take minutes; a Hypothesis example found it.
    row = [1e5, 0.0, 1e-300]
    ls = naive_log_softmax(row)
    np.testing.assert_array_equal(ls, [-0.0, -1e5, -1e5])  # -t underflows to -0.0
    x = np.array([row])
    for module in MODULES:
        assert_matches_oracle("log_softmax_rows", run(module, "log_softmax_rows", x), x)
