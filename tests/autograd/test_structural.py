"""Shape, indexing and joining primitives: values against NumPy, gradients by check_grads,
scatter-add of repeated indices, and the errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax as nps
from npsoftmax.autograd import Tensor
from npsoftmax.autograd.ops import getitem
from npsoftmax.testing import check_grads

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 3, 4))


# -- reshape, transpose, moveaxis, broadcast_to ---------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 4), (-1,), (4, 3, 2), (1, 24, 1)], ids=str)
def test_reshape(shape):
    np.testing.assert_array_equal(nps.reshape(X, shape), X.reshape(shape))
    check_grads(lambda t: nps.reshape(t, shape), X)


def test_reshape_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"reshape: .*shape \(2, 3, 4\) \(size 24\).*\(5, 5\)"):
        nps.reshape(nps.tensor(X), (5, 5))


@pytest.mark.parametrize("axes", [None, (0, 1, 2), (2, 0, 1), (-1, 0, 1), [1, 2, 0]], ids=str)
def test_transpose(axes):
    np.testing.assert_array_equal(nps.transpose(X, axes), np.transpose(X, axes))
    check_grads(lambda t: nps.transpose(t, axes), X)


@pytest.mark.parametrize("axes", [(0, 1), (0, 0, 1), (0, 1, 3)], ids=str)
def test_transpose_refuses_a_non_permutation(axes):
    with pytest.raises((ValueError, IndexError), match="transpose: "):
        nps.transpose(nps.tensor(X), axes)


@given(data=st.data())
@settings(deadline=None)
def test_moveaxis_matches_numpy(data):
    ndim = data.draw(st.integers(1, 5))
    x = np.zeros(tuple(range(2, 2 + ndim)))
    k = data.draw(st.integers(1, ndim))
    source = data.draw(st.permutations(range(-ndim, 0)).map(lambda p: p[:k]))
    destination = data.draw(st.permutations(range(ndim)).map(lambda p: p[:k]))
    expected = np.moveaxis(x, source, destination).shape
    assert nps.moveaxis(nps.tensor(x), source, destination).shape == expected
    assert nps.moveaxis(x, source, destination).shape == expected


def test_moveaxis_gradient_and_errors():
    check_grads(lambda t: nps.moveaxis(t, 0, -1), X)
    with pytest.raises(ValueError, match=r"moveaxis: .*same number"):
        nps.moveaxis(X, (0, 1), 2)
    with pytest.raises(ValueError, match=r"moveaxis: .*repeat"):
        nps.moveaxis(X, (0, 0), (1, 2))
    with pytest.raises(np.exceptions.AxisError, match="moveaxis: axis 3"):
        nps.moveaxis(X, 3, 0)


@pytest.mark.parametrize(
    ("shape", "target"), [((3,), (2, 3)), ((2, 1), (2, 5)), ((), (4,)), ((1, 3), (2, 2, 3))]
)
def test_broadcast_to(shape, target):
    x = RNG.normal(size=shape)
    np.testing.assert_array_equal(nps.broadcast_to(x, target), np.broadcast_to(x, target))
    check_grads(lambda t: nps.broadcast_to(t, target), x)


def test_broadcast_to_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(3,\) to .*\(4,"):
        nps.broadcast_to(nps.tensor(np.ones(3)), (4,))


# -- getitem ----------------------------------------------------------------------------------
INDICES = [
    1,
    -1,
    (0, 2),
    (slice(None), 1),
    (Ellipsis, 2),
    (slice(None, None, -1), slice(1, 3)),
    (None, 0, slice(None), None),
    np.array([1, 0, 1]),  # repeated
    (slice(None), [2, 2, 0]),  # repeated, second axis
    ([0, 1, 1], [1, 2, 2], [3, 0, 0]),  # repeated element
    (np.array([[0], [1]]), slice(None), np.array([0, 3])),  # broadcast index arrays
    X > 0,  # boolean mask over everything
    (slice(None), np.array([True, False, True])),  # boolean mask on one axis
    (np.array([True, False]), Ellipsis, 1),
]


@pytest.mark.parametrize("index", INDICES, ids=lambda i: f"{type(i).__name__}")
def test_getitem_value_and_gradient(index):
    np.testing.assert_array_equal(getitem(X, index), X[index])
    np.testing.assert_array_equal(nps.tensor(X)[index].data, X[index])
    check_grads(lambda t: t[index], X, full_jacobian_max=24)


def test_repeated_indices_accumulate():
    x = nps.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 2, 0, 0])].backward(np.array([1.0, 10.0, 100.0, 1000.0]))
    np.testing.assert_array_equal(x.grad, [1101.0, 0.0, 10.0])


def test_an_index_tensor_is_used_as_a_constant():
    x = nps.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[nps.tensor([2, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(x[(nps.tensor([0]),)].data, [1.0])


def test_getitem_errors_name_the_op_and_shape():
    with pytest.raises(IndexError, match=r"getitem: cannot index an array of shape \(3,\)"):
        nps.tensor([1.0, 2.0, 3.0])[5]
    with pytest.raises(IndexError, match="getitem: "):
        nps.tensor([1.0, 2.0, 3.0])[np.array([True, False])]


def test_iterating_a_tensor_stops_at_its_length():
    rows = list(nps.tensor(np.arange(6.0).reshape(3, 2)))
    assert len(rows) == 3 and rows[2].shape == (2,)


# -- take_along_axis ------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_take_along_axis_value_and_gradient(axis):
    x = RNG.normal(size=(3, 4))
    idx = np.argsort(x, axis=axis)
    idx = np.take(idx, [0, 0, 1], axis=axis)  # the first index picked twice
    np.testing.assert_array_equal(
        nps.take_along_axis(x, idx, axis=axis), np.take_along_axis(x, idx, axis=axis)
    )
    check_grads(lambda t: nps.take_along_axis(t, idx, axis=axis), x)


def test_take_along_axis_broadcasts_and_takes_axis_none():
    x = RNG.normal(size=(1, 5))
    idx = np.array([[0, 4], [1, 1], [3, 0]])
    np.testing.assert_array_equal(
        nps.take_along_axis(x, idx, axis=1), np.take_along_axis(x, idx, axis=1)
    )
    check_grads(lambda t: nps.take_along_axis(t, idx, axis=1), x)
    flat = np.array([0, 4, 4])
    np.testing.assert_array_equal(nps.take_along_axis(X, flat, axis=None), X.ravel()[flat])
    check_grads(lambda t: nps.take_along_axis(t, flat, axis=None), X, full_jacobian_max=24)


def test_take_along_axis_picks_the_target_log_probability():
    logp = nps.tensor(np.log([[0.2, 0.8], [0.5, 0.5]]), requires_grad=True)
    target = np.array([1, 0])
    loss = -nps.mean(nps.take_along_axis(logp, target[:, None], axis=1))
    loss.backward()
    np.testing.assert_array_equal(logp.grad, [[0.0, -0.5], [-0.5, 0.0]])


@pytest.mark.parametrize(
    "call",
    [
        lambda x: nps.transpose(x, (True, False)),
        lambda x: nps.concatenate([x, x], axis=True),
        lambda x: nps.take_along_axis(x, np.zeros((2, 1), np.intp), axis=np.True_),
    ],
)
def test_a_bool_axis_is_refused_naming_it(call):
    # True.__index__() is 1, yet NumPy refuses axis=True in transpose and concatenate (and in
    # every reduction); the one axis check (shapes.normalize_axis) refuses it everywhere.
    with pytest.raises(TypeError, match=r"axis must be an integer, got the bool (np\.)?True"):
        call(nps.tensor(np.ones((2, 3))))


def test_take_along_axis_errors():
    x = nps.tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match="take_along_axis: indices must be an integer"):
        nps.take_along_axis(x, np.array([[0.0]]), axis=1)
    with pytest.raises(ValueError, match=r"take_along_axis: indices of shape \(2,\)"):
        nps.take_along_axis(x, np.array([0, 1]), axis=1)
    with pytest.raises(IndexError, match="take_along_axis: "):
        nps.take_along_axis(x, np.array([[3]]), axis=1)
    with pytest.raises(np.exceptions.AxisError, match="take_along_axis: axis 2"):
        nps.take_along_axis(x, np.array([[0]]), axis=2)


# -- concatenate and stack ------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_concatenate(axis):
    parts = [RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))]
    if axis == 0:
        parts[1] = RNG.normal(size=(1, 3))
    np.testing.assert_array_equal(nps.concatenate(parts, axis=axis), np.concatenate(parts, axis))
    check_grads(lambda *ts: nps.concatenate(ts, axis=axis), *parts)


def test_concatenate_mixes_tensors_and_arrays_and_keeps_dtypes():
    a = nps.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    b = nps.tensor([3.0], requires_grad=True)
    y = nps.concatenate([a, np.zeros(1), b])
    assert y.dtype == np.float64
    y.backward(np.array([1.0, 2.0, 3.0, 4.0]))
    assert a.grad.dtype == np.float32
    np.testing.assert_array_equal(a.grad, [1.0, 2.0])
    np.testing.assert_array_equal(b.grad, [4.0])


def test_concatenate_errors():
    with pytest.raises(ValueError, match=r"concatenate: cannot join shapes \[\(2, 3\), \(2, 4\)\]"):
        nps.concatenate([nps.tensor(np.ones((2, 3))), np.ones((2, 4))])
    with pytest.raises(ValueError, match="concatenate: needs at least one"):
        nps.concatenate([])
    with pytest.raises(ValueError, match="concatenate: cannot join 0-d"):
        nps.concatenate([np.float64(1.0), np.float64(2.0)])


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack(axis):
    parts = [RNG.normal(size=(2, 3)) for _ in range(3)]
    np.testing.assert_array_equal(nps.stack(parts, axis=axis), np.stack(parts, axis))
    check_grads(lambda *ts: nps.stack(ts, axis=axis), *parts)


def test_stack_errors():
    with pytest.raises(ValueError, match=r"stack: .*same shape, got \(2,\) and \(3,\)"):
        nps.stack([nps.tensor(np.ones(2)), np.ones(3)])
    with pytest.raises(ValueError, match="stack: needs at least one"):
        nps.stack([])
    with pytest.raises(np.exceptions.AxisError, match="stack: axis 3"):
        nps.stack([np.ones(2), np.ones(2)], axis=3)


# -- dispatch -----------------------------------------------------------------------------------
STRUCTURAL = [
    lambda a: nps.reshape(a, (-1,)),
    lambda a: nps.transpose(a),
    lambda a: nps.moveaxis(a, 0, 1),
    lambda a: nps.broadcast_to(a, (3, 2, 3, 4)),
    lambda a: getitem(a, (0, [1, 1])),
    lambda a: nps.take_along_axis(a, np.zeros((1, 1, 1), dtype=int), axis=2),
    lambda a: nps.concatenate([a, a], axis=1),
    lambda a: nps.stack([a, a]),
]


@pytest.mark.parametrize("op", STRUCTURAL)
def test_structural_ops_are_array_in_array_out_tensor_in_tensor_out(op):
    out = op(X)
    assert isinstance(out, np.ndarray)
    t = op(nps.tensor(X, requires_grad=True))
    assert isinstance(t, Tensor) and t.requires_grad
    np.testing.assert_array_equal(t.data, out)


@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=3), elements=st.floats(-9, 9)))
@settings(deadline=None)
def test_structural_round_trip_gradients_are_the_identity(x):
    # reshape, transpose and a full slice only move elements: d(sum(g * f(x)))/dx = f^-1(g).
    t = nps.tensor(x, requires_grad=True)
    y = nps.transpose(nps.reshape(t, (-1,))[::-1], None)
    y.backward(np.arange(x.size, dtype=float))
    np.testing.assert_array_equal(t.grad.reshape(-1), np.arange(x.size)[::-1])
