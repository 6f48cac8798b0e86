"""Linear: values against x @ W.T + b, PyTorch's init and layout, dtypes, gradients, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npsoftmax as nps
from npsoftmax.nn import Linear, ModuleList
from npsoftmax.nn.linear import stacked_linear
from npsoftmax.testing import check_grads

from ._helpers import as_function


@given(
    lead=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    n_in=st.integers(1, 5),
    n_out=st.integers(0, 4),
    bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_forward_is_x_times_w_transposed_plus_b(lead, n_in, n_out, bias, seed):
    layer = Linear(n_in, n_out, bias=bias, rng=seed)
    x = np.random.default_rng(seed).standard_normal((*lead, n_in))
    y = layer(x)
    assert isinstance(y, nps.Tensor) and y.shape == (*lead, n_out)
    expected = np.einsum("...i,oi->...o", x, layer.weight.data)
    if bias:
        expected = expected + layer.bias.data
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)


def test_layout_and_default_initialisation_bounds():
    layer = Linear(25, 400, rng=0)
    assert layer.weight.shape == (400, 25) and layer.bias.shape == (400,)
    bound = 1 / np.sqrt(25)  # kaiming_uniform(a=sqrt(5)) on fan_in 25
    for p in (layer.weight.data, layer.bias.data):
        assert np.all(np.abs(p) <= bound)
    # 10,000 uniform draws reach close to the bound and are centred.
    assert np.abs(layer.weight.data).max() > 0.99 * bound
    assert abs(layer.weight.data.mean()) < 0.01
    assert np.std(layer.weight.data) == pytest.approx(bound / np.sqrt(3), rel=0.05)


def test_randomness_only_from_rng():
    a, b, c = Linear(3, 4, rng=7), Linear(3, 4, rng=np.random.default_rng(7)), Linear(3, 4, rng=8)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, c.weight.data)
    # The weight is drawn before the bias, from the same stream.
    gen, bound = np.random.default_rng(7), 1 / np.sqrt(3)
    np.testing.assert_array_equal(a.weight.data, gen.uniform(-bound, bound, (4, 3)))
    np.testing.assert_array_equal(a.bias.data, gen.uniform(-bound, bound, 4))


def test_zero_in_features_gives_zero_parameters():
    layer = Linear(0, 3, rng=0)
    np.testing.assert_array_equal(layer(np.ones((2, 0))).data, np.zeros((2, 3)))


@pytest.mark.parametrize(("n_in", "n_out"), [(0, 3), (3, 0), (0, 0)])
def test_zero_features_backward(n_in, n_out):
    # reshape(-1, 0) cannot infer the rows: the VJP must not depend on it.  What the sums over
    # empty axes give: dx = g W = 0 when W has no rows, db = sum over the batch of g = 1.
    layer = Linear(n_in, n_out, rng=0)
    x = nps.tensor(np.ones((2, 5, n_in)), requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros((2, 5, n_in)))
    np.testing.assert_array_equal(layer.weight.grad, np.zeros((n_out, n_in)))
    np.testing.assert_array_equal(layer.bias.grad, np.full(n_out, 10.0))


def test_dtypes_promote_as_numpy_and_never_cast_down():
    f32 = Linear(3, 2, dtype=np.float32, rng=0)
    f64 = Linear(3, 2, rng=0)
    assert f32.weight.dtype == np.float32 and f64.weight.dtype == np.float64
    assert f32(np.ones(3, dtype=np.float32)).dtype == np.float32
    assert f32(np.ones(3, dtype=np.float64)).dtype == np.float64
    assert f64(np.ones(3, dtype=np.float32)).dtype == np.float64
    assert f32(np.ones(3, dtype=np.float16)).dtype == np.float32
    assert f64(np.ones(3, dtype=np.int64)).dtype == np.float64


def test_float32_gradients_stay_float32_for_float64_input():
    layer = Linear(3, 2, dtype=np.float32, rng=0)
    layer(np.ones((4, 3))).sum().backward()
    assert layer.weight.grad.dtype == np.float32 and layer.bias.grad.dtype == np.float32
    np.testing.assert_array_equal(layer.bias.grad, np.full(2, 4.0, dtype=np.float32))
    np.testing.assert_array_equal(layer.weight.grad, np.full((2, 3), 4.0, dtype=np.float32))


@pytest.mark.parametrize("lead", [(), (3,), (2, 2)])
@pytest.mark.parametrize("bias", [True, False])
def test_gradients_match_finite_differences(lead, bias):
    layer = Linear(3, 2, bias=bias, rng=0)
    f, params = as_function(layer, lambda m, x: m(x))
    x = np.random.default_rng(1).standard_normal((*lead, 3))
    check_grads(f, x, *params)


def test_unbatched_input():
    layer = Linear(3, 2, rng=0)
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(layer(x).data, layer(x[None])[0].data, rtol=0, atol=0)


def test_tensor_input_gets_its_gradient():
    layer = Linear(3, 2, rng=0)
    x = nps.tensor(np.ones((1, 3)), requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_allclose(x.grad, layer.weight.data.sum(axis=0, keepdims=True))


def test_wrong_feature_size_names_both_sizes():
    layer = Linear(3, 2, rng=0)
    with pytest.raises(ValueError, match=r"last axis has size 4 .*in_features is 3"):
        layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match="at least one axis"):
        layer(np.float64(1.0))
    with pytest.raises(TypeError, match="numeric"):
        layer(np.array(["a", "b", "c"]))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((-1, 2), {}, ValueError, "in_features must be an integer >= 0, got -1"),
        ((2, -3), {}, ValueError, "out_features must be an integer >= 0, got -3"),
        ((2.0, 2), {}, TypeError, "in_features must be an integer, got 2.0"),
        ((True, 2), {}, TypeError, "in_features must be an integer, got True"),
        ((2, 2), {"bias": 1}, TypeError, "bias must be True or False"),
        ((2, 2), {"dtype": np.float16}, TypeError, "dtype must be numpy.float64 or numpy.float32"),
        ((2, 2), {"dtype": np.int32}, TypeError, "dtype must be"),
        ((2, 2), {"dtype": None}, TypeError, "dtype must be"),
        ((2, 2), {"rng": -1}, ValueError, "non-negative"),
        ((2, 2), {"rng": "seed"}, TypeError, "rng must be"),
    ],
)
def test_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        Linear(*args, **kwargs)


def test_repr():
    assert repr(Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"


@pytest.mark.parity
def test_pytorch_state_dict_loads_by_name_and_agrees():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.Linear(4, 3, dtype=torch.float64)
    layer = Linear(4, 3, rng=0)
    layer.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4))
    g = np.random.default_rng(1).standard_normal((5, 3))
    xt = torch.tensor(x, requires_grad=True)
    ref(xt).backward(torch.tensor(g))
    xn = nps.tensor(x, requires_grad=True)
    layer(xn).backward(g)
    np.testing.assert_allclose(layer(x).data, ref(xt).detach().numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(xn.grad, xt.grad.numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(layer.weight.grad, ref.weight.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(layer.bias.grad, ref.bias.grad.numpy(), rtol=1e-14)


@pytest.mark.parametrize("lead", [(), (4,), (2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_op_equals_its_composite_twin_in_value_and_gradient(lead, bias):
    # LinearFunction against matmul + add through the engine (design.md: every fused op).
    rng = np.random.default_rng(5)
    x = nps.tensor(rng.standard_normal((*lead, 3)), requires_grad=True)
    w = nps.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = nps.tensor(rng.standard_normal(2), requires_grad=True)
    g = rng.standard_normal((*lead, 2))
    twin = nps.matmul(x, nps.transpose(w))
    fused = nps.nn.linear.LinearFunction.apply(x, w, *([b] if bias else []))
    if bias:
        twin = twin + b
    np.testing.assert_allclose(fused.data, twin.data, rtol=1e-14, atol=1e-14)
    grads = []
    for y in (fused, twin):
        for t in (x, w, b):
            t.grad = None
        y.backward(g)
        grads.append([None if t.grad is None else t.grad.copy() for t in (x, w, b)])
    for a, c in zip(*grads):
        if a is None or c is None:
            assert a is None and c is None and not bias
        else:
            np.testing.assert_allclose(a, c, rtol=1e-13, atol=1e-14)


# -- stacked_linear: K layers on one input, as one fused op ------------------------------------
@pytest.mark.parametrize("lead", [(), (3,), (2, 2), (0,)])
@pytest.mark.parametrize("bias", [True, False])
def test_stacked_linear_is_the_stack_of_the_layers(lead, bias):
    layers = ModuleList([Linear(4, 3, bias=bias, rng=k) for k in range(3)])
    x = np.random.default_rng(2).standard_normal((*lead, 4))
    z = stacked_linear(x, layers)
    want = np.stack([layer(x).data for layer in layers], axis=-2)
    assert z.shape == (*lead, 3, 3)
    np.testing.assert_allclose(z.data, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("lead", [(), (3,), (2, 2)])
@pytest.mark.parametrize("bias", [True, False])
def test_stacked_linear_gradients_match_finite_differences(lead, bias):
    layers = ModuleList([Linear(3, 2, bias=bias, rng=k) for k in range(2)])
    f, params = as_function(layers, lambda m, x: stacked_linear(x, list(m)))
    x = np.random.default_rng(1).standard_normal((*lead, 3))
    check_grads(f, x, *params)


def test_stacked_linear_gradients_equal_the_layers_own():
    """The fused op's gradients are those of K Linear calls and a stack (float32 kept)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    g = rng.standard_normal((6, 3, 5)).astype(np.float32)
    grads = []
    for fused in (True, False):
        layers = ModuleList([Linear(4, 5, dtype=np.float32, rng=k) for k in range(3)])
        xt = nps.tensor(x, requires_grad=True)
        z = stacked_linear(xt, layers) if fused else nps.stack([m(xt) for m in layers], axis=-2)
        z.backward(g)
        grads.append([xt.grad] + [p.grad for p in layers.parameters()])
    for fused, composite in zip(*grads):
        assert fused.dtype == composite.dtype == np.float32
        np.testing.assert_allclose(fused, composite, rtol=1e-5, atol=1e-5)
