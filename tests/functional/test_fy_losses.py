"""sparsemax_loss and entmax15_loss: the Fenchel-Young losses, against independent formulas.

Oracles: the sparsemax loss's own closed form ``-z_y + (sum_{j in S} (z_j^2 - tau^2)) / 2 + 1/2``
(Martins & Astudillo, eq. 19) with the exact sparsemax of ``tests/naive.py``; for 1.5-entmax the
definition ``H(p) + <p - e_y, z>`` evaluated with the 40-digit oracle's ``p``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import npsoftmax as nps
from npsoftmax.testing import check_grads
from tests.naive import naive_entmax15, naive_sparsemax

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

LOSSES = {"sparsemax": nps.sparsemax_loss, "entmax15": nps.entmax15_loss}
MAPS = {"sparsemax": nps.sparsemax, "entmax15": nps.entmax15}


def batches(bound: float = 20.0):
    return arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 6)),
        elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False),
    )


def oracle_sparsemax_loss(z: np.ndarray, y: int) -> float:
    """Martins & Astudillo's form, exactly (fractions): -z_y + sum_S (z_j^2 - tau^2) / 2 + 1/2."""
    p = naive_sparsemax(z)
    zf = [Fraction(v) for v in z]
    support = [j for j in range(len(z)) if p[j] > 0]
    tau = (sum(zf[j] for j in support) - 1) / len(support)
    return float(-zf[y] + sum(zf[j] ** 2 - tau**2 for j in support) / 2 + Fraction(1, 2))


def oracle_entmax15_loss(z: np.ndarray, y: int) -> float:
    p = naive_entmax15(z)
    m = z.max()
    return float((1 - np.sum(p**1.5)) / 0.75 + np.sum(p * (z - m)) - (z[y] - m))


ORACLES = {"sparsemax": oracle_sparsemax_loss, "entmax15": oracle_entmax15_loss}


@pytest.mark.parametrize("name", LOSSES)
@given(z=batches(), data=st.data())
def test_against_the_oracle_and_non_negative(backend, name, z, data):
    y = np.array(
        data.draw(st.lists(st.integers(0, z.shape[1] - 1), min_size=len(z), max_size=len(z)))
    )
    losses = LOSSES[name](z, y, reduction="none")
    want = np.array([ORACLES[name](z[i], y[i]) for i in range(len(z))])
    assert losses.shape == (len(z),) and (losses >= 0).all()
    np.testing.assert_allclose(losses, want, rtol=1e-12, atol=1e-12 * (1 + np.abs(z).max()))
    np.testing.assert_allclose(
        LOSSES[name](z, y, reduction="sum"), want.sum(), rtol=1e-12, atol=1e-10
    )
    np.testing.assert_allclose(LOSSES[name](z, y), want.mean(), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("name", LOSSES)
def test_zero_exactly_when_the_output_is_the_target_one_hot(name):
    z = np.array([[10.0, 0.0, -1.0], [0.0, 3.0, 0.5], [1.0, 1.0, 0.0]])
    losses = LOSSES[name](z, np.array([0, 1, 0]), reduction="none")
    np.testing.assert_array_equal(losses[:2], 0.0)  # p* = e_y: the loss is exactly 0
    assert losses[2] > 0.1  # p* = (1/2, 1/2, 0) is not a one-hot
    assert (LOSSES[name](z, np.array([1, 0, 2]), reduction="none") > 0.5).all()


@pytest.mark.parametrize("name", LOSSES)
@settings(max_examples=15)
@given(z=batches(bound=3.0), data=st.data(), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_gradient_is_p_minus_onehot(name, z, data, reduction):
    y = np.array(
        data.draw(st.lists(st.integers(0, z.shape[1] - 1), min_size=len(z), max_size=len(z)))
    )
    t = nps.tensor(z, requires_grad=True)
    loss = LOSSES[name](t, y, reduction=reduction)
    loss.backward(np.ones(loss.shape))
    want = MAPS[name](z) - np.eye(z.shape[1])[y]
    np.testing.assert_allclose(t.grad, want / (len(z) if reduction == "mean" else 1), atol=1e-15)
    # The loss is C^1 (its gradient p* - e_y is continuous): no kinks to avoid.
    check_grads(lambda u: LOSSES[name](u, y, reduction=reduction), z, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", LOSSES)
def test_axes_dtypes_masks_and_shift(name):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 5, 4))
    y = rng.integers(0, 5, size=(3, 4))
    along1 = LOSSES[name](z, y, axis=1, reduction="none")
    np.testing.assert_allclose(along1, LOSSES[name](np.moveaxis(z, 1, -1), y, reduction="none"))
    assert along1.shape == (3, 4)
    l32 = LOSSES[name](z.astype(np.float32), y, axis=1)
    assert l32.dtype == np.float32
    np.testing.assert_allclose(l32, LOSSES[name](z, y, axis=1), rtol=1e-5)
    assert LOSSES[name](np.array([1, 2, 3]), 2).dtype == np.float64  # ints promoted
    np.testing.assert_allclose(
        LOSSES[name](z + 1e6, y, axis=1), LOSSES[name](z, y, axis=1), atol=1e-8
    )
    # Masks: a -inf non-target is ignored; a -inf target gives +inf (as cross-entropy does);
    # a row without a finite maximum gives NaN.  No warnings.
    zm = np.array([[0.0, -np.inf, 1.0], [0.0, -np.inf, 1.0], [np.nan, 0.0, 0.0]])
    got = LOSSES[name](zm, np.array([2, 1, 0]), reduction="none")
    np.testing.assert_allclose(got[0], LOSSES[name](np.array([0.0, 1.0]), 1))
    assert got[1] == np.inf and np.isnan(got[2])


@pytest.mark.parametrize("name", LOSSES)
def test_an_offset_of_2_to_the_40_changes_no_loss_beyond_rounding(name):
    # Logits on a grid of 1/8: x + 2**40 is exact, so the losses of x and of x + 2**40 are
    # equal in exact arithmetic (p is shift invariant and <p - e_y, z> is too).  Computed
    # against the raw z, each p_j z_j ~ 2**40 would round at 2**-13 and leave errors ~1e-4.
    rng = np.random.default_rng(1)
    x = rng.integers(-16, 17, size=(200, 6)) / 8.0
    y = rng.integers(0, 6, size=200)
    assert np.array_equal((x + 2.0**40) - 2.0**40, x)
    loss = LOSSES[name](x, y, reduction="none")
    shifted = LOSSES[name](x + 2.0**40, y, reduction="none")
    np.testing.assert_allclose(
        shifted, loss, rtol=4 * np.finfo(float).eps, atol=4 * np.finfo(float).eps
    )


@pytest.mark.parametrize("name", LOSSES)
def test_bad_input(name):
    loss = LOSSES[name]
    z = np.zeros((2, 3))
    with pytest.raises(IndexError, match=r"target value 3 .*\[0, 2\]"):
        loss(z, np.array([0, 3]))
    with pytest.raises(IndexError, match=r"target value -1"):
        loss(z, np.array([-1, 0]))
    with pytest.raises(TypeError, match="integer"):
        loss(z, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        loss(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        loss(z, np.array([0, 1]), reduction="average")
    with pytest.raises(ValueError, match="empty"):
        loss(np.zeros((0, 3)), np.zeros(0, dtype=int))
    assert loss(np.zeros((0, 3)), np.zeros(0, dtype=int), reduction="sum") == 0.0


@pytest.mark.parametrize("name", LOSSES)
def test_empty_class_axis_says_so_as_cross_entropy_does(name):
    # Not an IndexError about class indices in [0, -1]: the same sentence cross_entropy says.
    z, t = np.zeros((2, 0)), np.array([0, 1])
    with pytest.raises(ValueError) as ce:
        nps.cross_entropy(z, t, axis=-1)
    with pytest.raises(ValueError) as fy:
        LOSSES[name](z, t)
    assert str(fy.value) == str(ce.value).replace("cross_entropy", f"{name}_loss")
    with pytest.raises(ValueError, match=rf"^{name}_loss: the class axis 0 .* is empty"):
        LOSSES[name](np.zeros(0), 0)


@pytest.mark.parametrize("name", LOSSES)
def test_float32_loss_beyond_float32_range_is_inf_without_a_warning(name):
    # Target 1 has z_y = -3e38 and the loss is about z_max - z_y = 6e38 (first principles: p is
    # the one-hot of the maximum, H(p) = 0, so L = <p - e_y, z> = 3e38 - (-3e38)), beyond
    # float32's 3.4e38: inf is the correctly rounded float32 result, and the cast must be quiet
    # (the module's filterwarnings turns a RuntimeWarning into an error).
    z = np.array([[3e38, -3e38, 0.0]], dtype=np.float32)
    loss = LOSSES[name](z, np.array([1]), reduction="none")
    assert loss.dtype == np.float32 and loss.shape == (1,) and np.isposinf(loss).all()
    assert np.isposinf(LOSSES[name](z, np.array([1])))
    assert LOSSES[name](z, np.array([0]), reduction="none")[0] == 0.0  # the target is the max
