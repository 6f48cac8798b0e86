"""Custom ``Function`` subclasses: an integer or boolean result is a constant, as in PyTorch."""

import numpy as np
import pytest

import npsoftmax as nps


class ArgMax(nps.Function):
    def forward(self, x):
        return np.argmax(x, axis=-1)

    def backward(self, g):
        return (None,)


class Positive(nps.Function):
    def forward(self, x):
        return x > 0

    def backward(self, g):
        return (None,)


@pytest.mark.parametrize(("fn", "expected"), [(ArgMax, [1, 0]), (Positive, [[1, 1], [1, 0]])])
def test_an_integer_or_boolean_result_is_a_constant_outside_the_graph(fn, expected):
    x = nps.tensor([[1.0, 3.0], [2.0, -1.0]], requires_grad=True)
    y = fn.apply(x)
    assert not y.requires_grad and y.is_leaf and y.dtype.kind in "ib"
    np.testing.assert_array_equal(y.data, expected)


def test_an_integer_result_can_index_a_differentiable_tensor():
    x = nps.tensor([[1.0, 3.0, 2.0], [5.0, 4.0, 0.0]], requires_grad=True)
    best = ArgMax.apply(x)
    picked = nps.take_along_axis(x, best.data[:, None], axis=1)
    picked.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


@pytest.mark.parity
def test_parity_with_torch_for_an_integer_result():
    torch = pytest.importorskip("torch")

    class TorchArgMax(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return torch.argmax(x, dim=-1)

        @staticmethod
        def backward(ctx, g):
            return None

    data = [[1.0, 3.0, 2.0]]
    theirs = TorchArgMax.apply(torch.tensor(data, requires_grad=True))
    ours = ArgMax.apply(nps.tensor(data, requires_grad=True))
    assert ours.requires_grad is theirs.requires_grad is False
    np.testing.assert_array_equal(ours.data, theirs.numpy())
