"""Module wrappers of the functional family: each equals its function, checks at construction."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import log_softmax as scipy_log_softmax
from scipy.special import softmax as scipy_softmax

import npsoftmax as nps
from npsoftmax import nn
from npsoftmax.testing import check_grads

from ..naive import naive_rows, naive_sparsemax

ROWS = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5),
    elements=st.floats(-30, 30),
)

# (module, the function it wraps, keyword arguments of both)
PAIRS = [
    (nn.Softmax, nps.softmax, {}),
    (nn.LogSoftmax, nps.log_softmax, {}),
    (nn.Softmin, nps.softmin, {}),
    (nn.Softmax1, nps.softmax1, {}),
    (nn.Sparsemax, nps.sparsemax, {}),
    (nn.Entmax15, nps.entmax15, {}),
    (nn.EntmaxBisect, nps.entmax_bisect, {"alpha": 1.7, "n_iter": 30}),
    (nn.TempSoftmax, nps.temp_softmax, {"temperature": 0.7}),
]


INPUTS = [
    np.array([0.5, -1.0, 2.0, 2.0]),
    np.random.default_rng(0).standard_normal((3, 4)) * 5,
    np.array([[[-np.inf, 0.0, 1.0], [1e3, -1e3, 0.0]]]),
]


@pytest.mark.parametrize(("module", "function", "kwargs"), PAIRS)
@pytest.mark.parametrize("x", INPUTS, ids=["vector", "matrix", "edges"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_module_equals_its_function(module, function, kwargs, x, axis):
    # Equality with the function is the contract; the functions have their own oracle tests.
    expected = function(x, axis=axis, **kwargs)
    got = module(axis=axis, **kwargs)(x)
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, expected)
    got_tensor = module(axis=axis, **kwargs)(nps.tensor(x))
    assert isinstance(got_tensor, nps.Tensor)
    np.testing.assert_array_equal(got_tensor.data, expected)


def test_entmax_bisect_module_passes_its_n_iter_on():
    # One Newton step is not converged on this row, so n_iter shows in the result.
    x = np.array([[2.0, 1.0, 0.5, -1.0], [0.3, 0.2, 0.1, 0.0]])
    one_step = nps.entmax_bisect(x, 1.3, n_iter=1)
    assert not np.allclose(one_step, nps.entmax_bisect(x, 1.3), rtol=1e-6, atol=0)
    np.testing.assert_array_equal(nn.EntmaxBisect(alpha=1.3, n_iter=1)(x), one_step)
    np.testing.assert_array_equal(nn.EntmaxBisect(alpha=1.3)(x), nps.entmax_bisect(x, 1.3))


@given(x=ROWS)
def test_against_independent_oracles(x):
    np.testing.assert_allclose(nn.Softmax()(x), scipy_softmax(x, axis=-1), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(
        nn.LogSoftmax()(x), scipy_log_softmax(x, axis=-1), rtol=1e-13, atol=1e-13
    )
    np.testing.assert_allclose(nn.Softmin()(x), scipy_softmax(-x, axis=-1), rtol=1e-13, atol=1e-300)
    x2 = x.reshape(-1, x.shape[-1])
    np.testing.assert_allclose(
        nn.Sparsemax()(x2), naive_rows(naive_sparsemax, x2), rtol=1e-12, atol=1e-12
    )
    padded = np.concatenate([x, np.zeros((*x.shape[:-1], 1))], axis=-1)
    np.testing.assert_allclose(
        nn.Softmax1()(x), scipy_softmax(padded, axis=-1)[..., :-1], rtol=1e-13, atol=1e-300
    )


def test_gumbel_softmax_module_draws_from_its_own_generator():
    x = np.log(np.array([[0.2, 0.3, 0.5]] * 4))
    module = nn.GumbelSoftmax(tau=0.5, rng=3)
    gen = np.random.default_rng(3)
    first, second = module(x), module(x)
    np.testing.assert_array_equal(first, nps.gumbel_softmax(x, tau=0.5, rng=gen))
    np.testing.assert_array_equal(second, nps.gumbel_softmax(x, tau=0.5, rng=gen))
    assert not np.array_equal(first, second)
    np.testing.assert_allclose(first.sum(axis=-1), 1.0, rtol=1e-12)
    hard = nn.GumbelSoftmax(hard=True, rng=0)(x)
    assert set(np.unique(hard)) <= {0.0, 1.0} and np.all(hard.sum(axis=-1) == 1.0)


def test_learnable_temperature_is_a_parameter_with_a_gradient():
    module = nn.TempSoftmax(temperature=2.0, learnable=True)
    assert [n for n, _ in module.named_parameters()] == ["temperature"]
    assert module.temperature.shape == () and module.temperature.dtype == np.float64
    x = np.array([[0.5, -1.0, 2.0], [0.0, 1.0, 3.0]])

    def f(logits, t):
        module.temperature = t
        return module(logits)

    check_grads(f, x, np.array(2.0))
    f32 = nn.TempSoftmax(temperature=2.0, learnable=True, dtype=np.float32)
    assert f32.temperature.dtype == np.float32
    assert list(nn.TempSoftmax(2.0).parameters()) == []


def test_learnable_temperature_trains():
    # The target is softmax(x / 3): gradient descent on the KL moves T from 1 towards 3.
    module = nn.TempSoftmax(temperature=1.0, learnable=True)
    x = np.array([[2.0, 0.0, -1.0], [1.0, 3.0, 0.0]])
    target = scipy_softmax(x / 3.0, axis=-1)
    with nps.use_backend("numpy"):  # tiny arrays: the serial twins are the quick ones
        for _ in range(200):
            module.zero_grad()
            loss = -(nps.log(module(x)) * target).sum()
            loss.backward()
            module.temperature.data = module.temperature.data - 2.0 * module.temperature.grad
    assert float(module.temperature.data) == pytest.approx(3.0, rel=1e-3)


def test_modules_have_no_parameters_and_print_their_hyperparameters():
    assert repr(nn.Softmax(axis=(0, 1))) == "Softmax(axis=(0, 1))"
    assert repr(nn.LogSoftmax(axis=None)) == "LogSoftmax(axis=None)"
    assert repr(nn.EntmaxBisect()) == "EntmaxBisect(alpha=1.5, axis=-1, n_iter=None)"
    assert repr(nn.GumbelSoftmax()) == "GumbelSoftmax(tau=1.0, hard=False, axis=-1)"
    assert repr(nn.TempSoftmax(0.5)) == "TempSoftmax(temperature=0.5, learnable=False, axis=-1)"
    for module in (nn.Softmax(), nn.Sparsemax(), nn.Entmax15(), nn.GumbelSoftmax()):
        assert list(module.parameters()) == []


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: nn.Softmax(axis=1.0), TypeError, "Softmax: axis must be an int"),
        (lambda: nn.LogSoftmax(axis=True), TypeError, "axis must be an int"),
        (lambda: nn.Sparsemax(axis=[0]), TypeError, "axis must be"),
        (lambda: nn.Entmax15(axis=(0, "1")), TypeError, "axis must be"),
        (lambda: nn.EntmaxBisect(alpha=1.0), ValueError, "alpha must be a finite number greater"),
        (lambda: nn.EntmaxBisect(alpha="2"), TypeError, "alpha"),
        (lambda: nn.EntmaxBisect(n_iter=0), ValueError, "n_iter must be at least 1"),
        (lambda: nn.EntmaxBisect(n_iter=2.5), TypeError, "n_iter must be an integer"),
        (lambda: nn.GumbelSoftmax(tau=0.0), ValueError, "tau must be a finite number > 0"),
        (lambda: nn.GumbelSoftmax(tau=-1.0), ValueError, "tau"),
        (lambda: nn.GumbelSoftmax(hard=1), TypeError, "hard must be True or False"),
        (lambda: nn.GumbelSoftmax(rng=1.5), TypeError, "rng must be"),
        (lambda: nn.TempSoftmax(temperature=0.0), ValueError, "temperature must be a finite"),
        (lambda: nn.TempSoftmax(temperature=np.inf), ValueError, "temperature"),
        (lambda: nn.TempSoftmax(learnable=1), TypeError, "learnable must be True or False"),
        (lambda: nn.TempSoftmax(learnable=True, dtype=np.int64), TypeError, "dtype"),
    ],
)
def test_bad_hyperparameters_fail_at_construction(make, error, match):
    with pytest.raises(error, match=match):
        make()
