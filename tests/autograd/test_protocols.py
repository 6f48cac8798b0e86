"""A Tensor as a Python value: truth, len, iteration, ``in``, float/int/index conversion (NumPy's
rules, PyTorch's errors for 0-d), and NumPy's reductions (np.sum, np.mean, np.max) on a Tensor."""

import operator

import numpy as np
import pytest

import npsoftmax as nps


# -- truth --------------------------------------------------------------------------------------
@pytest.mark.parametrize("values", [0.0, 1.0, [0.0], [2.0], [[0.0]], True, [False]])
def test_truth_follows_numpy(values):
    assert bool(nps.tensor(values)) is bool(np.array(values))


def test_a_zero_one_element_loss_is_false():
    loss = nps.tensor([0.0])
    assert not loss


@pytest.mark.parametrize("values", [[1.0, 2.0], [[0.0, 0.0]]])
def test_truth_of_several_elements_is_ambiguous_as_in_numpy(values):
    with pytest.raises(ValueError, match="ambiguous"):
        bool(nps.tensor(values))


# -- len and iteration --------------------------------------------------------------------------
def test_len_of_a_0d_tensor_is_refused_like_torch():
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(nps.tensor(1.0))
    assert len(nps.tensor([[1.0, 2.0]])) == 1


def test_iteration_over_a_0d_tensor_is_refused():
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(nps.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(nps.tensor(1.0))


def test_iteration_yields_differentiable_rows():
    x = nps.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    rows = list(x)
    assert len(rows) == 3 and all(r.shape == (2,) and r.requires_grad for r in rows)
    np.testing.assert_array_equal(rows[1].data, [3.0, 4.0])
    (rows[0] * 1.0 + rows[2] * 10.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 1.0], [0.0, 0.0], [10.0, 10.0]])


def test_builtin_sum_over_a_tensor_is_differentiable():
    x = nps.tensor([1.0, 2.0, 3.0], requires_grad=True)
    total = sum(x)
    assert total.item() == 6.0
    total.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])


def test_numpy_builds_an_array_from_a_list_of_0d_tensors():
    np.testing.assert_array_equal(np.array([nps.tensor(1.0), nps.tensor(2.0)]), [1.0, 2.0])


# -- membership ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [(1.0, True), (0.5, False), (2, True)])
def test_in_compares_values_like_numpy(value, expected):
    data = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert (value in nps.tensor(data)) is expected is (value in data)


def test_in_accepts_a_tensor_and_a_row():
    t = nps.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert nps.tensor(4.0) in t
    assert [3.0, 4.0] in t  # NumPy's rule: any element equal after broadcasting


# -- conversions ----------------------------------------------------------------------------------
def test_float_and_int_use_the_single_element():
    assert float(nps.tensor([[2.5]])) == 2.5 and isinstance(float(nps.tensor(2)), float)
    assert int(nps.tensor(2.7)) == 2 and isinstance(int(nps.tensor([3])), int)
    with pytest.raises(ValueError, match="exactly one element"):
        float(nps.tensor([1.0, 2.0]))


def test_an_integer_0d_tensor_is_an_index():
    i = nps.tensor(2)
    assert operator.index(i) == 2
    assert [10, 11, 12][i] == 12
    assert list(range(nps.tensor(np.uint8(3)))) == [0, 1, 2]


@pytest.mark.parametrize("value", [2.0, [2], True])
def test_only_an_integer_0d_tensor_is_an_index(value):
    with pytest.raises(TypeError, match="only an integer 0-d Tensor can be used as an index"):
        operator.index(nps.tensor(value))


# -- NumPy's reductions call the methods --------------------------------------------------------
@pytest.mark.parametrize(("np_fn", "expected", "grad"), [
    (np.sum, 10.0, [[1.0, 1.0], [1.0, 1.0]]),
    (np.mean, 2.5, [[0.25, 0.25], [0.25, 0.25]]),
    (np.max, 4.0, [[0.0, 0.0], [0.0, 1.0]]),
])  # fmt: skip
def test_numpy_reductions_of_a_tensor_give_a_differentiable_tensor(np_fn, expected, grad):
    x = nps.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = np_fn(x)
    assert isinstance(y, nps.Tensor) and y.requires_grad and y.item() == expected
    y.backward()
    np.testing.assert_array_equal(x.grad, grad)


def test_numpy_reductions_pass_axis_and_keepdims():
    x = nps.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = np.sum(x, axis=0, keepdims=True)
    assert isinstance(y, nps.Tensor) and y.shape == (1, 2)
    np.testing.assert_array_equal(np.mean(x, axis=1).data, [1.5, 3.5])
    np.testing.assert_array_equal(np.max(x, axis=-1).data, [2.0, 4.0])


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda t: np.sum(t, dtype=np.float32), "sum"),
        (lambda t: np.sum(t, out=np.zeros(())), "sum"),
        (lambda t: np.mean(t, dtype=np.float32), "mean"),
        (lambda t: np.mean(t, out=np.zeros(())), "mean"),
        (lambda t: np.max(t, out=np.zeros(())), "max"),
        (lambda t: t.sum(dtype=np.float64), "sum"),
    ],
)
def test_dtype_and_out_are_refused_with_a_pointer_to_the_alternatives(call, name):
    with pytest.raises(TypeError, match=rf"Tensor\.{name}\(\) does not support .*nps\.{name}\(t\)"):
        call(nps.tensor([1.0, 2.0]))
