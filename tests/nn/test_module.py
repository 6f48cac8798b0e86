"""Module and Parameter: naming by attribute walk, training state, state dicts, repr."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax as nps
from npsoftmax.nn import IncompatibleKeys, Linear, Module, ModuleList, Parameter


class Leaf(Module):
    def __init__(self, n=2):
        super().__init__()
        self.w = Parameter(np.arange(n, dtype=np.float64))


class Tree(Module):
    """Parameters reached through an attribute, a list, a tuple, a dict and a nested module."""

    def __init__(self):
        super().__init__()
        self.first = Parameter(np.zeros(1))
        self.layers = [Leaf(1), Leaf(2)]
        self.pair = (Parameter(np.ones(3)), Leaf(3))
        self.table = {"a": Leaf(4), "b": [Parameter(np.ones((2, 2)))]}
        self.constant = nps.tensor([1.0, 2.0])  # a plain Tensor is not a parameter
        self.numbers = [1, 2.0, "text"]  # other values are ignored

    def forward(self, x):
        return x


def test_named_parameters_walks_attributes_lists_tuples_and_dicts_in_order():
    names = [name for name, _ in Tree().named_parameters()]
    assert names == [
        "first",
        "layers.0.w",
        "layers.1.w",
        "pair.0",
        "pair.1.w",
        "table.a.w",
        "table.b.0",
    ]


def test_parameters_match_named_parameters():
    tree = Tree()
    assert [id(p) for p in tree.parameters()] == [id(p) for _, p in tree.named_parameters()]


def test_shared_parameter_and_shared_module_are_yielded_once():
    class Tied(Module):
        def __init__(self):
            super().__init__()
            self.enc = Linear(3, 3, rng=0)
            self.dec = Linear(3, 3, rng=1)
            self.dec.weight = self.enc.weight  # weight tying
            self.again = self.enc  # the same module under a second name

    names = [name for name, _ in Tied().named_parameters()]
    assert names == ["enc.weight", "enc.bias", "dec.bias"]
    assert [name for name, _ in Tied().named_modules()] == ["", "enc", "dec"]


class Tied(Module):
    """A decoder tied to its encoder's weight, as the original MoS code ties its embedding."""

    def __init__(self, seed=0):
        super().__init__()
        self.enc = Linear(3, 3, rng=seed)
        self.dec = Linear(3, 3, rng=seed + 1)
        self.dec.weight = self.enc.weight


def test_state_dict_lists_a_tied_weight_under_every_name_like_pytorch():
    tied = Tied()
    assert list(tied.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert [n for n, _ in tied.named_parameters(remove_duplicate=False)] == list(tied.state_dict())
    assert len(list(tied.parameters())) == 3  # optimised once


def test_a_tied_weight_loads_from_any_of_its_names_and_they_must_agree():
    src, dst = Tied(0), Tied(5)
    state = src.state_dict()
    assert dst.load_state_dict(state) == IncompatibleKeys([], [])
    assert dst.dec.weight is dst.enc.weight  # still tied
    np.testing.assert_array_equal(dst.enc.weight.data, src.enc.weight.data)
    # A checkpoint naming it once (as npsoftmax wrote them before) still loads strictly.
    dst = Tied(5)
    dst.load_state_dict({k: v for k, v in state.items() if k != "dec.weight"})
    np.testing.assert_array_equal(dst.dec.weight.data, src.enc.weight.data)
    # Missing under every name: all of them are reported.
    result = Tied(5).load_state_dict({"enc.bias": state["enc.bias"]}, strict=False)
    assert result.missing_keys == ["enc.weight", "dec.weight", "dec.bias"]
    # Two names, two different values: which one would win is arbitrary, so it is refused.
    state["dec.weight"] = state["dec.weight"] + 1.0
    dst = Tied(5)
    before = dst.enc.weight.data.copy()
    with pytest.raises(ValueError, match=r"'enc\.weight' and 'dec\.weight' name the same"):
        dst.load_state_dict(state)
    np.testing.assert_array_equal(dst.enc.weight.data, before)


@pytest.mark.parity
def test_a_tied_pytorch_checkpoint_loads_and_ours_loads_into_pytorch():
    torch = pytest.importorskip("torch")

    class TorchTied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = torch.nn.Linear(3, 3)
            self.dec = torch.nn.Linear(3, 3)
            self.dec.weight = self.enc.weight

    ref = TorchTied()
    ours = Tied(3)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    np.testing.assert_array_equal(ours.dec.weight.data, ref.dec.weight.detach().numpy())
    back = TorchTied()
    back.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    assert torch.equal(back.dec.weight, ref.enc.weight)


def test_a_cycle_does_not_loop():
    a, b = Leaf(), Leaf()
    a.other, b.other = b, a
    assert [name for name, _ in a.named_parameters()] == ["w", "other.w"]
    assert [name for name, _ in a.named_parameters(remove_duplicate=False)] == ["w", "other.w"]
    assert len(list(a.modules())) == 2


def test_children_and_named_modules():
    tree = Tree()
    assert [name for name, _ in tree.named_children()] == [
        "layers.0",
        "layers.1",
        "pair.1",
        "table.a",
    ]
    assert [name for name, _ in tree.named_modules()] == [
        "",
        "layers.0",
        "layers.1",
        "pair.1",
        "table.a",
    ]
    assert all(isinstance(m, Module) for m in tree.children())


def test_call_runs_forward_and_base_forward_is_not_defined():
    assert Tree()(5) == 5
    with pytest.raises(NotImplementedError, match="Leaf does not define forward"):
        Leaf()(1.0)


def test_zero_grad_to_none_or_to_zeros():
    leaf = Leaf(3)
    (leaf.w * leaf.w).sum().backward()
    leaf.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(leaf.w.grad, np.zeros(3))
    leaf.zero_grad()
    assert leaf.w.grad is None


def test_train_and_eval_propagate_and_return_self():
    tree = Tree()
    assert tree.eval() is tree
    assert [m.training for m in tree.modules()] == [False] * 5
    assert tree.train() is tree
    assert all(m.training for m in tree.modules())
    with pytest.raises(TypeError, match="expects a bool"):
        tree.train("no")


def test_state_dict_holds_copies():
    leaf = Leaf()
    state = leaf.state_dict()
    state["w"][0] = 99.0
    assert leaf.w.data[0] == 0.0
    assert isinstance(state["w"], np.ndarray)


def test_load_state_dict_round_trip_and_result():
    source, target = Linear(3, 2, rng=0), Linear(3, 2, rng=1)
    result = target.load_state_dict(source.state_dict())
    assert result == ([], [])
    assert repr(result) == "<All keys matched successfully>"
    for name, p in target.named_parameters():
        np.testing.assert_array_equal(p.data, source.state_dict()[name])


def test_load_state_dict_does_not_alias_the_callers_arrays():
    layer = Linear(2, 2, rng=0)
    state = {"weight": np.ones((2, 2)), "bias": np.ones(2)}
    layer.load_state_dict(state)
    state["weight"][0, 0] = 5.0
    assert layer.weight.data[0, 0] == 1.0


def test_load_state_dict_refuses_missing_and_unexpected_keys_by_name():
    layer = Linear(2, 2, rng=0)
    before = layer.state_dict()
    with pytest.raises(ValueError, match=r"missing keys \['bias'\]"):
        layer.load_state_dict({"weight": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"unexpected keys \['extra'\]"):
        layer.load_state_dict({**before, "extra": np.zeros(1)})
    np.testing.assert_array_equal(layer.weight.data, before["weight"])


def test_load_state_dict_refuses_a_wrong_shape_even_when_not_strict_and_loads_nothing():
    layer = Linear(2, 3, rng=0)
    before = layer.state_dict()
    bad = {"weight": np.zeros((3, 2)), "bias": np.zeros(2)}
    with pytest.raises(ValueError, match=r"'bias' has shape \(2,\).*shape \(3,\)"):
        layer.load_state_dict(bad, strict=False)
    np.testing.assert_array_equal(layer.weight.data, before["weight"])


def test_load_state_dict_not_strict_loads_the_intersection():
    layer = Linear(2, 2, rng=0)
    result = layer.load_state_dict({"weight": np.ones((2, 2)), "other": 1.0}, strict=False)
    assert isinstance(result, IncompatibleKeys)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    missing, unexpected = result
    assert (missing, unexpected) == (["bias"], ["other"])
    np.testing.assert_array_equal(layer.weight.data, np.ones((2, 2)))


def test_load_state_dict_keeps_the_module_dtype():
    layer = Linear(2, 2, dtype=np.float32, rng=0)
    layer.load_state_dict({"weight": np.full((2, 2), 0.1), "bias": nps.tensor([1, 2])})
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.data, np.float32(0.1))


def test_load_state_dict_bad_arguments():
    layer = Linear(2, 2, rng=0)
    with pytest.raises(TypeError, match="mapping"):
        layer.load_state_dict([("weight", np.zeros((2, 2)))])
    with pytest.raises(TypeError, match="'weight' must be a numeric array"):
        layer.load_state_dict({"weight": np.array([["a", "b"], ["c", "d"]]), "bias": np.zeros(2)})


@given(
    hnp.arrays(
        st.sampled_from([np.float32, np.float64]),
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
        elements={"allow_nan": True, "allow_infinity": True},
    )
)
def test_state_dict_round_trip_is_bit_exact(values):
    class Holder(Module):
        def __init__(self, v):
            super().__init__()
            self.p = Parameter(v)

    target = Holder(np.zeros_like(values))
    target.load_state_dict(Holder(values).state_dict())
    assert target.p.dtype == values.dtype
    assert target.p.data.tobytes() == values.tobytes()


def test_parameter_dtypes_and_copy():
    data = np.ones(2, dtype=np.float32)
    p = Parameter(data)
    assert p.dtype == np.float32 and p.requires_grad and p.is_leaf
    data[0] = 5.0
    assert p.data[0] == 1.0
    assert Parameter(np.ones(1), requires_grad=False).requires_grad is False
    for bad in (np.ones(2, dtype=np.int64), np.ones(2, dtype=np.float16), [1, 2]):
        with pytest.raises(TypeError, match="float32 or float64"):
            Parameter(bad)
    assert (
        repr(Parameter(np.array([1.0])))
        == "Parameter containing:\ntensor([1.], requires_grad=True)"
    )


def test_repr_is_nested_like_pytorch():
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.body = ModuleList([Linear(2, 3, rng=0), nps.nn.Softmax()])
            self.head = Linear(3, 1, bias=False, rng=0)

    assert repr(Net()) == (
        "Net(\n"
        "  (body): ModuleList(\n"
        "    (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "    (1): Softmax(axis=-1)\n"
        "  )\n"
        "  (head): Linear(in_features=3, out_features=1, bias=False)\n"
        ")"
    )
    assert repr(Leaf()) == "Leaf()"
