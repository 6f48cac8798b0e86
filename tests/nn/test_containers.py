"""Sequential and ModuleList: composition, PyTorch's positional names, indexing, errors."""

import numpy as np
import pytest
from scipy.special import softmax as scipy_softmax

import npsoftmax as nps
from npsoftmax.nn import Linear, ModuleList, Sequential, Softmax
from npsoftmax.testing import check_grads

from ._helpers import as_function


def test_sequential_composes_in_order():
    first, second = Linear(4, 3, rng=0), Linear(3, 2, rng=1)
    model = Sequential(first, second, Softmax())
    x = np.random.default_rng(0).standard_normal((5, 4))
    hidden = x @ first.weight.data.T + first.bias.data
    logits = hidden @ second.weight.data.T + second.bias.data
    np.testing.assert_allclose(model(x).data, scipy_softmax(logits, axis=-1), rtol=1e-13)


def test_empty_sequential_is_the_identity():
    x = np.arange(3.0)
    assert Sequential()(x) is x


def test_sequential_gradients():
    model = Sequential(Linear(3, 4, rng=0), Linear(4, 2, rng=1), Softmax())
    f, params = as_function(model, lambda m, x: m(x))
    check_grads(f, np.random.default_rng(2).standard_normal((2, 3)), *params)


def test_positional_parameter_names_like_pytorch():
    model = Sequential(Linear(2, 2, rng=0), Softmax(), Linear(2, 1, bias=False, rng=0))
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight"]

    class Holder(nps.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = ModuleList([Linear(2, 2, rng=0), Linear(2, 2, rng=1)])

    assert [n for n, _ in Holder().named_parameters()] == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
    ]


def test_module_list_indexing_len_iteration_and_append():
    a, b, c = Linear(1, 1, rng=0), Linear(1, 1, rng=1), Softmax()
    layers = ModuleList([a, b])
    assert len(layers) == 2 and layers[0] is a and layers[-1] is b
    assert list(layers) == [a, b]
    assert layers.append(c) is layers and layers[2] is c
    part = layers[1:]
    assert isinstance(part, ModuleList) and list(part) == [b, c]
    assert isinstance(Sequential(a, b)[:1], Sequential)
    assert len(ModuleList()) == 0
    layers.extend([Softmax()])
    assert len(layers) == 4


def test_module_list_errors():
    layers = ModuleList([Linear(1, 1, rng=0)])
    with pytest.raises(IndexError, match="index 1 is out of range for 1 modules"):
        layers[1]
    with pytest.raises(IndexError, match="index -2"):
        layers[-2]
    with pytest.raises(TypeError, match="integers or slices, got str"):
        layers["0"]
    with pytest.raises(TypeError, match="must be a Module, got ufunc"):
        layers.append(np.exp)
    with pytest.raises(TypeError, match="every element must be a Module, got int"):
        ModuleList([1])
    with pytest.raises(TypeError, match="Sequential: every element must be a Module"):
        Sequential(Linear(1, 1), "relu")


def test_train_eval_reach_the_contained_modules():
    model = Sequential(Linear(1, 1, rng=0), ModuleList([Softmax()]))
    model.eval()
    assert not model[1][0].training
    model.train()
    assert model[1][0].training


def test_repr():
    model = Sequential(Linear(2, 3, rng=0), Softmax(axis=0))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Softmax(axis=0)\n"
        ")"
    )


def test_a_subclass_keeps_its_own_parameters_and_modules():
    class Scaled(Sequential):
        def __init__(self, *stages):
            super().__init__(*stages)
            self.scale = nps.nn.Parameter(np.array([2.0]))
            self.head = Linear(2, 1, rng=1)

        def forward(self, x):
            return self.head(super().forward(x) * self.scale)

    model = Scaled(Linear(2, 2, rng=0))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "scale", "head.weight", "head.bias"]
    assert [name for name, _ in model.named_children()] == ["0", "head"]
    opt = nps.optim.SGD(model.parameters(), lr=0.5)
    model(np.ones((1, 2))).sum().backward()
    opt.step()
    assert model.scale.data[0] != 2.0  # the optimiser saw it
    assert model.eval() is model and not model.head.training
