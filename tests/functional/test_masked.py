"""masked_softmax, softmax1 and local_softmax: oracles, edge policy, gradients, errors."""

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax as nps
from npsoftmax.testing import check_grads

RNG = np.random.default_rng(7)
X34 = RNG.normal(size=(3, 4))
MASK34 = np.array(
    [[True, False, True, True], [False, False, False, False], [True, True, False, True]]
)
EPS = np.finfo(np.float64).eps


def finite(bound=1e3, min_side=1, max_side=8):
    return hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(min_side, max_side)),
        elements=st.floats(-bound, bound),
    )


@st.composite
def logits_mask_fill(draw):
    """Logits, a boolean mask of the same shape, and junk for the masked entries."""
    x = draw(finite())
    mask = draw(hnp.arrays(np.bool_, x.shape))
    junk = draw(
        hnp.arrays(np.float64, x.shape, elements=st.sampled_from([np.nan, np.inf, -np.inf, 1e308]))
    )
    return x, mask, junk


# -- masked_softmax -------------------------------------------------------------------------
@given(logits_mask_fill())
def test_masked_softmax_oracle_and_junk_invariance(xmj):
    x, mask, junk = xmj
    y = nps.masked_softmax(x, mask)
    for i in range(x.shape[0]):
        expected = np.zeros(x.shape[1])
        if mask[i].any():
            expected[mask[i]] = sp.softmax(x[i, mask[i]])
        np.testing.assert_allclose(y[i], expected, rtol=1e-13, atol=1e-300)  # subnormals
    # Whatever sits under the mask (NaN, +-inf, huge) changes nothing.
    np.testing.assert_array_equal(nps.masked_softmax(np.where(mask, x, junk), mask), y)


def test_fully_masked_rows_give_zeros_and_zero_gradients():
    x = np.where(MASK34, X34, np.nan)  # NaN under the mask
    y = nps.masked_softmax(x, MASK34)
    np.testing.assert_array_equal(y[1], 0.0)
    t = nps.tensor(x, requires_grad=True)
    # An upstream gradient that is infinite at masked lanes (as d log(y) at y = 0 would be).
    g = np.where(MASK34, RNG.normal(size=MASK34.shape), np.inf)
    nps.masked_softmax(t, MASK34).backward(g)
    assert np.all(np.isfinite(t.grad))
    np.testing.assert_array_equal(t.grad[~MASK34], 0.0)
    # Kept lanes: the softmax VJP of the kept entries alone.
    for i in (0, 2):
        k = MASK34[i]
        yk = sp.softmax(X34[i, k])
        np.testing.assert_allclose(t.grad[i, k], yk * (g[i, k] - g[i, k] @ yk), rtol=1e-12)


def test_kept_minus_inf_is_a_mask_and_kept_inf_or_nan_is_nan():
    mask = np.ones((4, 3), dtype=bool)
    x = np.array(
        [[-np.inf, 0.0, 0.0], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 0.0], [np.nan, 0, 0]]
    )
    y = nps.masked_softmax(x, mask)
    np.testing.assert_array_equal(y[:2], [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]])
    assert np.all(np.isnan(y[2:]))


def test_matches_its_composite_twin_in_value_and_gradient():
    keep = MASK34[[0, 2]]
    x = X34[[0, 2]]
    check_grads(lambda t: nps.masked_softmax(t, keep), x)

    def twin(t):
        return nps.softmax(nps.where(keep, t, -np.inf))

    a, b = nps.tensor(x, requires_grad=True), nps.tensor(x, requires_grad=True)
    g = RNG.normal(size=x.shape)
    ya, yb = nps.masked_softmax(a, keep), twin(b)
    np.testing.assert_allclose(ya.data, yb.data, rtol=1e-15)
    ya.backward(g)
    yb.backward(g)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-13, atol=1e-17)


def test_broadcast_masks_axes_and_dtypes():
    x = RNG.normal(size=(2, 3, 4))
    col = np.array([True, False, True, True])
    np.testing.assert_array_equal(
        nps.masked_softmax(x, col), nps.masked_softmax(x, np.broadcast_to(col, x.shape))
    )
    m0 = RNG.random((2, 3, 4)) > 0.3
    m0[:, 0, :] = True  # every column of axis 0 keeps something
    y = nps.masked_softmax(x, m0, axis=0)
    np.testing.assert_allclose(y.sum(axis=0)[m0.any(axis=0)], 1.0, rtol=1e-14)
    y32 = nps.masked_softmax(x.astype(np.float32), m0)
    assert y32.dtype == np.float32
    assert nps.masked_softmax(np.array([1, 2, 3]), np.array([True, True, False])).dtype == float
    assert nps.masked_softmax(np.zeros((2, 0)), np.zeros((2, 0), bool)).shape == (2, 0)


@pytest.mark.parametrize(
    "mask, err, words",
    [
        (np.ones((3, 4), dtype=int), TypeError, "boolean"),
        (np.ones((3, 4)), TypeError, "float64"),
        (np.ones(5, dtype=bool), ValueError, r"\(5,\).*\(3, 4\)"),
        (np.ones((2, 3, 4), dtype=bool), ValueError, r"\(2, 3, 4\).*\(3, 4\)"),
    ],
)
def test_masked_softmax_bad_masks(mask, err, words):
    with pytest.raises(err, match=words):
        nps.masked_softmax(X34, mask)


# -- softmax1 -------------------------------------------------------------------------------
def test_softmax1_no_off_by_one_bug():
    # AttentionIsOFFByOne #5 keeps the literal +1 after the shift and gives 1/3 here.
    y = nps.softmax1(np.array([10.0, 10.0]))
    np.testing.assert_allclose(y, 1 / (2 + np.exp(-10.0)), rtol=1e-15)
    assert y[0] > 0.4999


@given(finite())
def test_softmax1_is_softmax_with_an_extra_zero_logit(x):
    y = nps.softmax1(x)
    padded = np.concatenate([x, np.zeros((x.shape[0], 1))], axis=1)
    np.testing.assert_allclose(y, sp.softmax(padded, axis=1)[:, :-1], rtol=1e-13, atol=1e-300)
    s = y.sum(axis=1)
    assert np.all(s <= 1.0 + 4 * EPS * x.shape[1])
    # (expit underflows to 0 where the true sum is subnormal: atol at that scale)
    np.testing.assert_allclose(s, sp.expit(sp.logsumexp(x, axis=1)), rtol=1e-13, atol=1e-300)


def test_softmax1_edges_and_not_shift_invariant():
    x = np.array([[-np.inf, -np.inf], [0.0, -np.inf], [np.inf, 0.0], [np.nan, 0.0]])
    y = nps.softmax1(x)
    np.testing.assert_array_equal(y[:2], [[0.0, 0.0], [0.5, 0.0]])
    assert np.all(np.isnan(y[2:]))
    z = np.array([0.0, 1.0])
    assert not np.allclose(nps.softmax1(z), nps.softmax1(z + 3.0))
    assert nps.softmax1(np.array([-800.0, -800.0])).sum() == 0.0  # quiet: attends to nothing
    assert nps.softmax1(np.zeros((2, 0))).shape == (2, 0)
    assert nps.softmax1(np.array([1.0, 2.0], dtype=np.float32)).dtype == np.float32


def test_softmax1_gradients():
    check_grads(nps.softmax1, X34)
    check_grads(lambda t: nps.softmax1(t, axis=0), X34 + 2.0)
    # Not shift invariant, so the gradient need not sum to zero (it does for softmax).
    t = nps.tensor(X34, requires_grad=True)
    nps.softmax1(t).backward(np.ones(X34.shape))
    assert np.all(np.abs(t.grad.sum(axis=1)) > 1e-3)


def exact_softmax1(x):
    """softmax1 of the float rows in 50 digits: softmax with a 0 logit appended, then dropped."""
    mp = pytest.importorskip("mpmath").mp
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape)
    with mp.workdps(50):
        for i, row in enumerate(x):
            e = [mp.exp(mp.mpf(float(v))) for v in row]
            out[i] = [float(v / (1 + mp.fsum(e))) for v in e]
    return out


@pytest.mark.parametrize("dtype, scale", [(np.float64, 100.0), (np.float32, 30.0)])
def test_softmax1_is_accurate_in_ulps(dtype, scale):
    # A plain exp(x - m) rounds x - m first: up to |x - m| ulps off (383, seen, at scale 100).
    rng = np.random.default_rng(5)
    x = rng.normal(scale=scale, size=(10, 9)).astype(dtype)
    x[0, :2] = [200.5617625657041, -331.0831691202403]  # the reviewer's row
    want = exact_softmax1(x)
    y = nps.softmax1(x)
    assert y.dtype == dtype
    spacing = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
    assert np.max(np.abs(y.astype(np.float64) - want) / spacing) <= 2.0


# -- local_softmax --------------------------------------------------------------------------
@given(x=finite(max_side=12), k=st.integers(1, 12))
def test_local_softmax_chunks_are_array_split(x, k):
    assume(k <= x.shape[1])
    y = nps.local_softmax(x, num_chunks=k)
    parts = np.array_split(x, k, axis=1)
    np.testing.assert_allclose(
        y, np.concatenate([sp.softmax(p, axis=1) for p in parts], axis=1), rtol=1e-13, atol=1e-300
    )
    for chunk in np.array_split(y, k, axis=1):
        np.testing.assert_allclose(chunk.sum(axis=1), 1.0, rtol=1e-14)


def test_local_softmax_sizes_differ_from_torch_chunk():
    # torch.chunk(6 entries, 4) gives 3 chunks [2, 2, 2]; array_split gives [2, 2, 1, 1].
    y = nps.local_softmax(np.zeros(6), num_chunks=4)
    np.testing.assert_array_equal(y, [0.5, 0.5, 0.5, 0.5, 1.0, 1.0])


def test_local_softmax_axis_policy_tensor_and_grads():
    x = RNG.normal(size=(5, 3))
    np.testing.assert_allclose(nps.local_softmax(x, 1, axis=0), sp.softmax(x, axis=0))
    y = nps.local_softmax(x, 2, axis=0)
    np.testing.assert_allclose(y[:3].sum(axis=0), 1.0)
    np.testing.assert_allclose(y[3:].sum(axis=0), 1.0)
    z = nps.local_softmax(np.array([np.nan, 0.0, 1.0, 1.0]), 2)  # NaN stays in its chunk
    assert np.all(np.isnan(z[:2]))
    np.testing.assert_array_equal(z[2:], [0.5, 0.5])
    assert nps.local_softmax(np.zeros((2, 0)), 3).shape == (2, 0)
    out = nps.local_softmax(nps.tensor(x), 2, axis=0)
    assert isinstance(out, nps.Tensor)
    check_grads(lambda t: nps.local_softmax(t, 3), RNG.normal(size=(2, 7)))
    check_grads(lambda t: nps.local_softmax(t, 2, axis=0), x)


@pytest.mark.parametrize(
    "k, err, words",
    [
        (0, ValueError, "between 1 and .* got 0"),
        (5, ValueError, r"\(4\), got 5"),
        (-1, ValueError, "got -1"),
        (2.0, TypeError, "integer"),
        (True, TypeError, "integer"),
    ],
)
def test_local_softmax_bad_num_chunks(k, err, words):
    with pytest.raises(err, match=words):
        nps.local_softmax(X34, num_chunks=k)
