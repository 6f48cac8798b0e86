"""Reductions (sum, mean, max): values against NumPy for every axis form, gradients by
check_grads, the tie and NaN rules of max, empty input and axis errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax as nps
from npsoftmax.autograd import Tensor
from npsoftmax.testing import check_grads

REDUCTIONS = [(nps.sum, np.sum), (nps.mean, np.mean), (nps.max, np.max)]
AXES = [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2), ()]


def distinct_values(shape, seed=0):
    """Values at least 0.01 apart: max has no ties, so finite differences see no kink."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.01 - 0.3


@pytest.mark.parametrize(("op", "twin"), REDUCTIONS, ids=["sum", "mean", "max"])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_value_and_gradient(op, twin, axis, keepdims):
    x = distinct_values((2, 3, 4))
    expected = twin(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(op(x, axis=axis, keepdims=keepdims), expected, rtol=1e-15)
    y = op(nps.tensor(x), axis=axis, keepdims=keepdims)
    assert isinstance(y, Tensor) and y.shape == np.shape(expected)
    check_grads(lambda t: op(t, axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize(("op", "twin"), REDUCTIONS, ids=["sum", "mean", "max"])
@given(data=st.data())
@settings(deadline=None)
def test_reductions_match_numpy_on_random_shapes(op, twin, data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-1e6, 1e6)))
    axis = data.draw(st.none() | hnp.valid_tuple_axes(len(shape)))
    keepdims = data.draw(st.booleans())
    expected = twin(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(op(x, axis=axis, keepdims=keepdims), expected, rtol=1e-12)
    t = nps.tensor(x, requires_grad=True)
    op(t, axis=axis, keepdims=keepdims).backward(np.ones(np.shape(expected)))
    assert t.grad.shape == x.shape
    # Every slice's gradient adds up to what flowed in: 1 for mean and max, n for sum.
    n = x.size // max(np.size(expected), 1)
    total = np.sum(t.grad, axis=axis)
    np.testing.assert_allclose(total, n if op is nps.sum else 1.0, rtol=1e-12)


def test_reductions_keep_float32():
    x = nps.tensor(np.ones((2, 3)), dtype=np.float32, requires_grad=True)
    for op in (nps.sum, nps.mean, nps.max):
        y = op(x, axis=1)
        assert y.dtype == np.float32
        y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("op", [nps.mean, nps.max], ids=["mean", "max"])
@pytest.mark.parametrize(("shape", "axis"), [((100_000,), None), ((2, 70_000), 1)])
def test_float16_gradient_shared_by_more_than_65504_elements(op, shape, axis):
    # n > 65504 is inf in float16: the share 1/n must be computed wider, then rounded once.
    x = nps.tensor(np.ones(shape, np.float16), requires_grad=True)
    op(x, axis=axis).sum().backward()
    n = shape[-1]
    assert x.grad.dtype == np.float16
    np.testing.assert_array_equal(x.grad, np.full(shape, np.float16(1 / n)))
    assert x.grad.flat[0] > 0


@pytest.mark.parity
@pytest.mark.parametrize("op", ["mean", "amax"])
def test_float16_large_count_gradient_matches_torch(op):
    torch = pytest.importorskip("torch")
    n = 100_000
    x = nps.tensor(np.ones(n, np.float16), requires_grad=True)
    (nps.mean if op == "mean" else nps.max)(x).backward()
    t = torch.ones(n, dtype=torch.float16, requires_grad=True)
    getattr(torch, op)(t).backward()
    np.testing.assert_array_equal(x.grad, t.grad.numpy())


def test_reductions_of_a_0d_tensor_accept_axis_0_and_minus_1():
    x = nps.tensor(2.0, requires_grad=True)
    for op in (nps.sum, nps.mean, nps.max):
        for axis in (None, 0, -1):
            assert op(x, axis=axis).item() == 2.0
            assert op(x, axis=axis, keepdims=True).shape == ()
    nps.mean(x, axis=0).backward()
    assert x.grad == 1.0


def test_max_ties_share_the_gradient_equally():
    x = nps.tensor([[1.0, 3.0, 3.0, 3.0], [2.0, 0.0, 2.0, -1.0]], requires_grad=True)
    nps.max(x, axis=1).backward(np.array([3.0, 1.0]))
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 1.0, 1.0], [0.5, 0.0, 0.5, 0.0]])


def test_max_over_everything_with_a_tie():
    x = nps.tensor([[5.0, 1.0], [5.0, 5.0]], requires_grad=True)
    nps.max(x).backward()
    np.testing.assert_allclose(x.grad, [[1 / 3, 0.0], [1 / 3, 1 / 3]])


def test_max_sends_a_nan_slices_gradient_to_its_nans():
    x = nps.tensor([[1.0, np.nan, 2.0, np.nan], [1.0, 2.0, np.inf, 0.0]], requires_grad=True)
    y = nps.max(x, axis=1)
    np.testing.assert_array_equal(y.data, [np.nan, np.inf])
    y.backward(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.0, 0.5], [0.0, 0.0, 1.0, 0.0]])


def test_max_of_an_empty_axis_is_refused():
    with pytest.raises(
        ValueError, match=r"max: cannot take the maximum over an empty axis.*\(3, 0\)"
    ):
        nps.max(np.ones((3, 0)), axis=1)
    assert nps.max(np.ones((3, 0)), axis=0).shape == (0,)


def test_sum_and_mean_of_empty_input():
    x = nps.tensor(np.ones((0, 3)), requires_grad=True)
    assert nps.sum(x).item() == 0.0
    nps.sum(nps.mean(x, axis=0)).backward()  # mean over a 0-length axis: NaN, empty gradient
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("op", [nps.sum, nps.mean, nps.max], ids=lambda f: f.__name__)
def test_axis_errors(op):
    name = op.__name__
    with pytest.raises(np.exceptions.AxisError, match=rf"{name}: axis 2 is out of bounds.* 2"):
        op(nps.tensor(np.ones((2, 3))), axis=2)
    with pytest.raises(ValueError, match=rf"{name}: axis \(0, -2\) names the same axis twice"):
        op(np.ones((2, 3)), axis=(0, -2))
    with pytest.raises(TypeError, match=rf"{name}: axis must be an integer"):
        op(np.ones((2, 3)), axis=1.0)


def test_reductions_are_array_in_array_out():
    x = np.arange(6.0).reshape(2, 3)
    for op in (nps.sum, nps.mean, nps.max):
        assert not isinstance(op(x, axis=0), Tensor)
        assert isinstance(op(x.tolist(), axis=0), np.ndarray)
