"""The axis modules take NumPy's ``axis``; PyTorch's ``dim`` gets an error that says so."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from npsoftmax import nn

AXIS_MODULES = [
    nn.Softmax,
    nn.LogSoftmax,
    nn.Softmin,
    nn.Softmax1,
    nn.TempSoftmax,
    nn.Sparsemax,
    nn.Entmax15,
    nn.EntmaxBisect,
    nn.GumbelSoftmax,
]


@pytest.mark.parametrize("cls", AXIS_MODULES, ids=lambda c: c.__name__)
def test_dim_is_refused_with_a_pointer_to_axis(cls):
    name = cls.__name__
    with pytest.raises(
        TypeError,
        match=rf"^{name} got dim=1: it takes axis=.* not PyTorch's dim=; use "
        rf"{name}\(axis=1\)",
    ):
        cls(dim=1)
    # Other unknown keywords keep Python's message; axis works, and copies (which build the
    # object without arguments, through __new__) too.
    with pytest.raises(TypeError, match="unexpected keyword argument 'dims'"):
        cls(dims=1)
    m = cls(axis=0)
    assert m.axis == 0 and m(np.zeros((3, 2))).shape == (3, 2)
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert type(clone) is cls and clone.axis == 0


def test_a_subclass_that_takes_dim_itself_keeps_it():
    class MySoftmax(nn.Softmax):
        def __init__(self, dim=-1):
            super().__init__(axis=dim)

    m = MySoftmax(dim=0)
    assert m.axis == 0
