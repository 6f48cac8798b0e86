"""gumbel_softmax and gumbelmax: noise recipe, Gumbel-max distribution, gradients, errors."""

import numpy as np
import pytest
import scipy.special as sp
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax as nps
from npsoftmax.testing import check_grads

LOGITS = np.array([[0.3, -1.2, 2.0, 0.0, 1.1], [1.0, 1.0, -0.5, 0.2, 3.0]])


def gumbel(shape, seed):
    """The documented noise recipe, redrawn independently: G = -log(max(E, tiny))."""
    e = np.random.default_rng(seed).standard_exponential(size=shape)
    return -np.log(np.maximum(e, np.finfo(np.float64).tiny))


@given(
    x=hnp.arrays(
        np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6)), elements=st.floats(-50, 50)
    ),
    seed=st.integers(0, 2**32),
    tau=st.floats(0.05, 20.0),
)
def test_soft_and_hard_samples_follow_the_recipe(x, seed, tau):
    y = nps.gumbel_softmax(x, tau=tau, rng=seed)
    z = x + gumbel(x.shape, seed)
    np.testing.assert_allclose(y, sp.softmax(z / tau, axis=-1), rtol=1e-12, atol=1e-300)
    assert np.all(y >= 0)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-13)
    h = nps.gumbel_softmax(x, tau=tau, hard=True, rng=seed)
    np.testing.assert_array_equal(h.sum(axis=-1), 1.0)
    assert set(np.unique(h)) <= {0.0, 1.0}
    np.testing.assert_array_equal(np.argmax(h, axis=-1), np.argmax(z, axis=-1))


def test_seeds_and_generators_reproduce_and_differ():
    a = nps.gumbel_softmax(LOGITS, rng=3)
    np.testing.assert_array_equal(a, nps.gumbel_softmax(LOGITS, rng=3))
    np.testing.assert_array_equal(a, nps.gumbel_softmax(LOGITS, rng=np.random.default_rng(3)))
    assert not np.array_equal(a, nps.gumbel_softmax(LOGITS, rng=4))
    gen = np.random.default_rng(3)
    assert not np.array_equal(nps.gumbel_softmax(LOGITS, rng=gen), nps.gumbelmax(LOGITS, rng=gen))
    np.testing.assert_array_equal(
        nps.gumbelmax(LOGITS, temp=0.7, rng=5), nps.gumbel_softmax(LOGITS, tau=0.7, rng=5)
    )


def test_global_numpy_state_is_never_used():
    # The legacy global state is what must stay untouched, so this test reads it on purpose.
    np.random.seed(0)  # noqa: NPY002
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    nps.gumbel_softmax(LOGITS)
    nps.gumbelmax(LOGITS, hard=True)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    # rng=None draws fresh noise each call.
    assert not np.array_equal(nps.gumbel_softmax(LOGITS), nps.gumbel_softmax(LOGITS))


def test_hard_samples_follow_softmax_chi_square():
    # Gumbel-max trick: argmax(logits + G) ~ Categorical(softmax(logits)).
    n = 20000
    logits = np.array([0.5, -1.0, 1.5, 0.0, -0.3])
    h = nps.gumbel_softmax(np.broadcast_to(logits, (n, 5)), hard=True, rng=2024)
    counts = h.sum(axis=0)
    assert counts.sum() == n
    expected = n * sp.softmax(logits)
    assert scipy.stats.chisquare(counts, expected).pvalue > 1e-3


def test_minus_inf_logits_are_never_sampled():
    x = np.broadcast_to(np.array([0.0, -np.inf, 2.0, -np.inf]), (5000, 4))
    h = nps.gumbel_softmax(x, hard=True, rng=11)
    y = nps.gumbel_softmax(x, tau=0.1, rng=11)
    assert h[:, [1, 3]].sum() == 0 and y[:, [1, 3]].sum() == 0
    assert np.all(np.isfinite(y))


def test_a_zero_exponential_draw_gives_finite_noise():
    class ZeroDraws(np.random.Generator):
        def standard_exponential(self, size=None, **kwargs):
            return np.zeros(size)

    gen = ZeroDraws(np.random.PCG64(0))
    y = nps.gumbel_softmax(np.array([0.0, 1.0, 2.0]), rng=gen)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, sp.softmax([0.0, 1.0, 2.0]))  # equal noise cancels


def test_non_finite_rows_follow_softmax_policy():
    x = np.array([[np.nan, 0.0], [np.inf, 0.0], [-np.inf, -np.inf]])
    for hard in (False, True):
        assert np.all(np.isnan(nps.gumbel_softmax(x, hard=hard, rng=0)))


def test_gradient_for_fixed_noise_is_the_temperature_softmax_gradient():
    check_grads(lambda t: nps.gumbel_softmax(t, tau=0.7, rng=123), LOGITS)
    check_grads(lambda t: nps.gumbel_softmax(t, tau=2.0, axis=0, rng=9), LOGITS)
    a, b = nps.tensor(LOGITS, requires_grad=True), nps.tensor(LOGITS, requires_grad=True)
    g = np.random.default_rng(1).normal(size=LOGITS.shape)
    nps.gumbel_softmax(a, tau=0.7, rng=123).backward(g)
    nps.temp_softmax(b + gumbel(LOGITS.shape, 123), 0.7).backward(g)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12, atol=1e-15)


def test_straight_through_gradient_equals_the_soft_gradient():
    g = np.random.default_rng(2).normal(size=LOGITS.shape)
    grads = []
    for hard in (False, True):
        t = nps.tensor(LOGITS, requires_grad=True)
        out = nps.gumbel_softmax(t, tau=0.5, hard=hard, rng=77)
        assert isinstance(out, nps.Tensor)
        out.backward(g)
        grads.append(t.grad)
    np.testing.assert_array_equal(grads[0], grads[1])
    assert set(np.unique(out.data)) == {0.0, 1.0}  # exactly one-hot, not 1 - y + y


def test_learned_temperature_gets_its_gradient():
    tau = nps.tensor(0.8, requires_grad=True)
    check_grads(lambda t, s: nps.gumbel_softmax(t, tau=s, rng=5), LOGITS, np.array(0.8))
    y = nps.gumbel_softmax(nps.tensor(LOGITS), tau=tau, rng=5)
    y.backward(np.ones(LOGITS.shape) * np.arange(5))
    assert tau.grad is not None and np.isfinite(tau.grad)


def test_dtypes_axes_and_shapes():
    x32 = LOGITS.astype(np.float32)
    assert nps.gumbel_softmax(x32, rng=0).dtype == np.float32
    assert nps.gumbel_softmax(x32, hard=True, rng=0).dtype == np.float32
    assert nps.gumbel_softmax(np.array([1, 2, 3]), rng=0).dtype == np.float64
    h = nps.gumbel_softmax(LOGITS, hard=True, axis=0, rng=0)
    np.testing.assert_array_equal(h.sum(axis=0), 1.0)
    h = nps.gumbel_softmax(np.zeros((2, 3, 4)), hard=True, axis=(1, 2), rng=0)
    np.testing.assert_array_equal(h.sum(axis=(1, 2)), 1.0)
    assert nps.gumbel_softmax(np.zeros((3, 0)), hard=True, rng=0).shape == (3, 0)


@pytest.mark.parametrize(
    "kwargs, err, words",
    [
        ({"tau": 0.0}, ValueError, "tau must be a finite number > 0, got 0.0"),
        ({"tau": -1.0}, ValueError, "tau"),
        ({"tau": np.inf}, ValueError, "tau"),
        ({"tau": np.nan}, ValueError, "tau"),
        ({"tau": "1"}, TypeError, "tau"),
        ({"tau": np.ones(2)}, ValueError, "tau"),
        ({"hard": 1}, TypeError, "hard"),
        ({"rng": np.random.RandomState(0)}, TypeError, "Generator"),
        ({"rng": -3}, ValueError, "seed"),
        ({"rng": 1.5}, TypeError, "rng"),
    ],
)
def test_bad_arguments(kwargs, err, words):
    with pytest.raises(err, match=words):
        nps.gumbel_softmax(LOGITS, **kwargs)


def test_gumbelmax_names_temp():
    with pytest.raises(ValueError, match="temp must be"):
        nps.gumbelmax(LOGITS, temp=0.0)


def test_integer_tensor_logits_are_promoted_before_the_noise():
    # The noise is drawn in the logits' dtype: an int64 Tensor would truncate it.
    got = nps.gumbel_softmax(nps.tensor(np.array([1, 2, 3])), tau=0.7, rng=5)
    want = nps.gumbel_softmax(np.array([1.0, 2.0, 3.0]), tau=0.7, rng=5)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got.data, want)


def test_large_temperature_where_the_logits_spread_overflows():
    # z - max(z) overflows for z near +-1e308; z / tau does not.
    x = np.array([1e308, -1e308])
    z = x + gumbel(x.shape, 0)
    np.testing.assert_allclose(
        nps.gumbel_softmax(x, tau=1e308, rng=0), sp.softmax(z / 1e308), rtol=1e-15
    )
    tau = nps.tensor(2.0, requires_grad=True)  # float64: the float32 logits keep their dtype
    y = nps.gumbel_softmax(nps.tensor(LOGITS.astype(np.float32)), tau=tau, rng=0)
    assert y.dtype == np.float32
    y[0, 2].backward()
    assert tau.grad.dtype == np.float64 and np.isfinite(tau.grad)
