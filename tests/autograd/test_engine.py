"""The engine: Tensor's attributes, backward (accumulation, fan-out, depth, dtypes, shape checks),
no_grad, and how Tensors mix with NumPy arrays."""

import warnings
from typing import ClassVar

import numpy as np
import pytest

import npsoftmax as nps
from npsoftmax.autograd import Function, Tensor, is_grad_enabled


# -- attributes and conversions --------------------------------------------------------------
def test_attributes_mirror_the_array():
    x = nps.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert (x.shape, x.ndim, x.size, x.dtype) == ((2, 3), 2, 6, np.float64)
    assert len(x) == 2
    assert x.is_leaf and x.requires_grad and x.grad is None
    assert x.T.shape == (3, 2) and not x.T.is_leaf


def test_tensor_copies_but_Tensor_shares():
    a = np.ones(3)
    assert nps.tensor(a).data is not a
    assert Tensor(a).data is a


def test_repr_shows_dtype_grad_fn_and_requires_grad():
    assert repr(nps.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(nps.tensor([1.0], dtype=np.float32)) == "tensor([1.], dtype=float32)"
    w = nps.tensor([1.0], requires_grad=True)
    assert repr(w) == "tensor([1.], requires_grad=True)"
    assert repr(w * 2) == "tensor([2.], grad_fn=<MulFunction>)"


def test_item_numpy_detach():
    x = nps.tensor([[3.5]], requires_grad=True)
    assert x.item() == 3.5 and isinstance(x.item(), float)
    assert x.numpy() is x.data
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad
    np.testing.assert_array_equal(d.data, [[7.0]])
    with pytest.raises(ValueError, match=r"exactly one element.*\(2,\)"):
        nps.tensor([1.0, 2.0]).item()


def test_non_numeric_data_and_integer_requires_grad_are_refused():
    with pytest.raises(TypeError, match="numeric"):
        nps.tensor(["a", "b"])
    with pytest.raises(TypeError, match="floating"):
        nps.tensor([1, 2], requires_grad=True)


def test_comparisons_give_plain_boolean_masks():
    x = nps.tensor([1.0, 2.0, 3.0])
    mask = x > 1.5
    assert isinstance(mask, np.ndarray) and mask.dtype == bool
    np.testing.assert_array_equal(x <= nps.tensor([1.0, 1.0, 5.0]), [True, False, True])


# -- backward -----------------------------------------------------------------------------------
def test_grads_accumulate_across_two_backward_calls():
    x = nps.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [2 * 1 + 3, 2 * 2 + 3])


def test_the_same_graph_can_be_differentiated_twice():
    x = nps.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])


def test_fan_out_adds_the_gradients_of_every_use():
    x = nps.tensor([3.0], requires_grad=True)
    a = x * 2
    (a * a + a + x).sum().backward()  # 4x^2 + 2x + x
    np.testing.assert_array_equal(x.grad, [8 * 3.0 + 3])


@pytest.mark.parametrize("shape", [(), (1,), (2, 3)])
def test_three_paths_into_one_tensor_add_up_at_any_shape(shape):
    # Two paths make the engine's own sum; a third adds into it in place.  For a 0-d Tensor,
    # NumPy's + gives a scalar, which cannot be added into (it raised TypeError).
    a = nps.tensor(np.full(shape, 3.0), requires_grad=True)
    (a + a + a + a).sum().backward()
    assert isinstance(a.grad, np.ndarray) and a.grad.shape == shape
    np.testing.assert_array_equal(a.grad, np.full(shape, 4.0))


def test_a_scalar_loss_reused_in_a_penalty():
    w = nps.tensor([1.0, 2.0], requires_grad=True)
    s = (w * w).sum()  # 5
    (s * s + s).backward()  # d/dw (s^2 + s) = (2 s + 1) * 2 w
    np.testing.assert_array_equal(w.grad, [22.0, 44.0])


def test_one_op_using_an_input_twice():
    x = nps.tensor([1.0, -2.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, -4.0])


def test_a_10000_node_chain_needs_no_recursion():
    x = nps.tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    np.testing.assert_array_equal(y.data, [10_001.0, 10_002.0])


def test_broadcast_gradients_are_reduced_by_the_engine():
    x = nps.tensor(np.ones((2, 3)), requires_grad=True)
    row = nps.tensor(np.ones(3), requires_grad=True)
    col = nps.tensor(np.ones((2, 1)), requires_grad=True)
    (x * row + col).sum().backward()
    np.testing.assert_array_equal(row.grad, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(col.grad, [[3.0], [3.0]])


def test_retain_grad_keeps_an_intermediate_gradient():
    x = nps.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, [6.0, 12.0])


def test_constants_get_no_gradient():
    x = nps.tensor([1.0], requires_grad=True)
    c = nps.tensor([5.0])
    (x * c).sum().backward()
    assert c.grad is None


# -- dtypes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("scalar", [2, 2.0, True])
def test_float32_stays_float32_next_to_python_scalars(scalar):
    x = nps.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    for y in (x + scalar, scalar * x, x - scalar, scalar / x, x**2, nps.where(x > 1, x, scalar)):
        assert y.dtype == np.float32
    (x * 2.0 + 1.0).sum().backward()
    assert x.grad.dtype == np.float32


def test_gradients_take_each_inputs_dtype():
    x32 = nps.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    w64 = nps.tensor([3.0, 4.0], requires_grad=True)
    y = x32 * w64
    assert y.dtype == np.float64  # NumPy's promotion
    y.sum().backward()
    assert x32.grad.dtype == np.float32 and w64.grad.dtype == np.float64
    np.testing.assert_array_equal(x32.grad, [3.0, 4.0])


def test_numpy_scalars_are_weak_next_to_a_tensor_as_in_pytorch():
    # NumPy alone would promote (float32 array / np.float64 scalar is float64 under NEP 50);
    # PyTorch treats NumPy scalars as Python ones, and so does a Tensor here.
    x = nps.tensor(np.float32([1.0, 4.0]), requires_grad=True)
    for y in (x / np.sqrt(4.0), x * np.float64(2), np.float64(1) - x, x + np.int64(3)):
        assert y.dtype == np.float32
    (x / np.sqrt(4.0)).sum().backward()
    np.testing.assert_array_equal(x.grad, np.float32([0.5, 0.5]))
    # NumPy in, NumPy out: NumPy's own rule.
    assert nps.multiply(np.float32([1.0]), np.float64(2)).dtype == np.float64


@pytest.mark.parametrize(
    ("op", "want"),
    [
        (lambda x: x * 1e5, [100.04043579101562, -2e5]),  # 1e5 is inf in float16
        (lambda x: x / 1e5, [1.0004043579101562e-08, -2e-05]),  # 1e-5 is subnormal there
        (lambda x: x + 70000, [70000.0010004044, 69998.0]),
        (lambda x: x * np.float64(7e4), [70.02830505371094, -1.4e5]),
    ],
)
def test_a_scalar_the_tensors_dtype_cannot_hold_keeps_its_own(op, want):
    # Weak, it would be inf or a subnormal in float16 (NumPy computes with inf and warns):
    # instead it keeps float64 and promotes the result, whose values are then right.
    x = nps.tensor(np.float16([1e-3, -2.0]), requires_grad=True)
    y = op(x)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.data, want, rtol=1e-12)
    y.sum().backward()
    assert x.grad.dtype == np.float16  # (1e5 itself is inf in float16, as in PyTorch)
    # The NumPy path alike; an int out of an int8 Tensor's range promotes to int64.
    assert nps.multiply(np.float16([1e-3]), 1e5).dtype == np.float64
    np.testing.assert_array_equal((nps.tensor(np.int8([1, 2])) * 1000).data, [1000, 2000])
    # inf itself is a value, not out of range; a NumPy float beside an int Tensor keeps
    # NumPy's rule.
    assert np.isinf((x * float("inf")).data).all()
    assert (nps.tensor(np.int8([1, 2])) * np.float32(0.5)).dtype == np.float32


# -- refusals -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "op",
    [
        lambda x, y: x * [y, y],
        lambda x, y: nps.where(np.array([True, False]), x, [y, y]),
        lambda x, y: nps.softmax([[y, y]]),
        lambda x, y: nps.add(x, ([1.0, y],)),
    ],
)
def test_a_list_holding_a_tensor_that_requires_grad_is_refused(op):
    # np.asarray would read the Tensor's values and drop it from the graph: y.grad stayed None.
    x = nps.tensor([1.0, 2.0], requires_grad=True)
    y = nps.tensor(3.0, requires_grad=True)
    with pytest.raises(TypeError, match=r"holding a Tensor that requires grad.*nps\.stack"):
        op(x, y)
    # Constant Tensors in a list lose nothing, and nps.stack keeps y in the graph.
    (x * [nps.tensor(2.0), 2.0]).sum().backward()
    (x * nps.stack([y, y])).sum().backward()
    assert y.grad == 3.0


# -- in-place changes: an optimizer step after the forward ---------------------------------------
@pytest.mark.parametrize(
    "make", [lambda w: nps.optim.SGD([w], lr=0.5), lambda w: nps.optim.Adam([w])]
)
def test_a_graph_that_kept_a_parameter_refuses_to_run_after_a_step(make):
    w = nps.tensor([1.0, 2.0], requires_grad=True)
    opt = make(w)
    first, second = (w * w).sum(), (w * w * w).sum()
    first.backward()
    opt.step()
    # MulFunction kept w's array: its backward would differentiate at the new w.
    with pytest.raises(
        RuntimeError, match=r"input \d of multiply .* is at version 1; expected version 0"
    ):
        second.backward()
    opt.zero_grad()
    (w * w * w).sum().backward()  # computed again after the step: fine
    np.testing.assert_array_equal(w.grad, 3 * w.data**2)


def test_a_graph_that_kept_nothing_of_the_parameter_still_runs_after_a_step():
    # As in PyTorch: an addition saves nothing, so its gradient does not depend on w's values;
    # a softmax keeps its output, not its input.
    w = nps.tensor([1.0, 2.0], requires_grad=True)
    opt = nps.optim.SGD([w], lr=0.5)
    added, soft = (w + 1.0).sum(), nps.softmax(w)[0]
    w.grad = np.ones(2)
    opt.step()
    opt.zero_grad()
    added.backward()
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])
    soft.backward()
    assert w._version == 1


@pytest.mark.parametrize(
    "view", [lambda w: w.reshape((2, 1)), lambda w: w.T, lambda w: w[::-1], lambda w: w[None]]
)
def test_a_view_shares_its_bases_version(view):
    # As in PyTorch: w * w through a view saved the view's array, which is w's memory; a step
    # on w must refuse that graph too (it gave the gradient at the new w: [-18, -16]).
    w = nps.tensor([1.0, 2.0], requires_grad=True)
    opt = nps.optim.SGD([w], lr=1.0)
    v = view(w)
    y = (v * v).sum()
    w.grad = np.array([10.0, 10.0])
    opt.step()
    assert v._version == w._version == 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_a_detached_tensor_shares_the_version_too():
    # A graph that used w.detach() as a constant kept w's array: a step must refuse it.
    w = nps.tensor([1.0, 2.0], requires_grad=True)
    x = nps.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w.detach()).sum()
    w.grad = np.ones(2)
    nps.optim.SGD([w], lr=1.0).step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_a_computed_result_has_its_own_version():
    w = nps.tensor([1.0, 2.0], requires_grad=True)
    y = w * 2.0
    w._version += 1
    assert y._version == 0


def test_reset_parameters_counts_as_an_in_place_change():
    asm = nps.nn.AdaptiveLogSoftmaxWithLoss(4, 10, [4], rng=0)
    x = nps.tensor(np.ones((2, 4)), requires_grad=True)
    out = asm(x, np.array([0, 7]))
    asm.reset_parameters(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.loss.backward()


def test_backward_of_a_non_scalar_needs_an_explicit_gradient():
    x = nps.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2,\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 20.0])


def test_backward_checks_the_given_gradients_shape():
    x = nps.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_without_requires_grad_is_refused():
    with pytest.raises(RuntimeError, match="does not require grad"):
        nps.tensor([1.0]).sum().backward()


class WrongShape(Function):
    """A deliberately broken op: its backward returns a gradient of the wrong shape."""

    def forward(self, x):
        return x * 2

    def backward(self, g):
        return (np.ones((*g.shape[:-1], g.shape[-1] + 1)),)


class WrongArity(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g  # not a tuple


def test_a_wrong_shaped_gradient_is_reported_with_the_op_name():
    x = nps.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"WrongShape.*\(2, 4\).*\(2, 3\)"):
        WrongShape.apply(x).sum().backward()


class TooFewAxes(Function):
    """A deliberately broken op: its gradient has fewer axes than its input and no broadcast."""

    def forward(self, x):
        return x * 2

    def backward(self, g):
        return (np.ones(2),)


def test_a_gradient_with_too_few_axes_is_reported_with_the_op_name():
    x = nps.tensor(np.ones((3, 4)), requires_grad=True)
    with pytest.raises(ValueError, match="TooFewAxes"):
        TooFewAxes.apply(x).sum().backward()


def test_a_backward_that_returns_no_tuple_is_reported_with_the_op_name():
    x = nps.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"WrongArity\.backward must return a tuple"):
        WrongArity.apply(x).sum().backward()


# -- no_grad --------------------------------------------------------------------------------
def test_no_grad_records_nothing_and_restores_the_mode():
    w = nps.tensor([1.0, 2.0], requires_grad=True)
    with nps.no_grad():
        assert not is_grad_enabled()
        y = w * 2
        with nps.no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(KeyError), nps.no_grad():
        raise KeyError
    assert is_grad_enabled()


# -- mixing with NumPy --------------------------------------------------------------------------
def test_ndarray_on_the_left_gives_a_tensor():
    x = nps.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    for y in (a + x, a - x, a * x, a / x, a @ x):
        assert isinstance(y, Tensor) and y.requires_grad
    (a @ x).sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 1.0], [2.0, 2.0]])


def test_numpy_ufuncs_refuse_tensors_but_asarray_works():
    x = nps.tensor([1.0, 2.0])
    with pytest.raises(TypeError):
        np.exp(x)
    np.testing.assert_array_equal(np.asarray(x), [1.0, 2.0])


def test_method_forms_of_reshape_and_transpose():
    x = nps.tensor(np.arange(6.0), requires_grad=True)
    assert x.reshape(2, 3).shape == x.reshape((2, 3)).shape == (2, 3)
    m = x.reshape(1, 2, 3)
    assert m.transpose(2, 0, 1).shape == m.transpose((2, 0, 1)).shape == (3, 1, 2)
    assert m.transpose().shape == (3, 2, 1)
    (m.transpose(2, 0, 1) * np.arange(6.0).reshape(3, 1, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 2, 4, 1, 3, 5])


def test_engine_accumulation_overflows_silently():
    x = nps.tensor([1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x + x).backward(np.array([1e308]))
    assert x.grad[0] == np.inf


# -- copies: which gradients the engine keeps as they are ------------------------------------
class Scale(Function):
    """``y = c * x`` whose backward returns a fresh array and records it (``returned``)."""

    owns_grads = True
    returned: ClassVar[list] = []  # reset by the fixture below

    def forward(self, x, c=2.0):
        self.c = c
        return c * x

    def backward(self, g):
        dx = self.c * g  # a new array, referred to by nothing else
        Scale.returned.append(dx)
        return (dx,)


class ScaleShared(Scale):
    """The same op, not declaring its gradients its own (the default)."""

    owns_grads = False


class Identity(Function):
    """Declares owned gradients but hands back the upstream gradient itself."""

    owns_grads = True

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return (g,)


@pytest.fixture
def returned():
    Scale.returned = []
    return Scale.returned


def test_an_owned_gradient_becomes_the_leafs_grad_without_a_copy(returned):
    x = nps.tensor(np.ones(5), requires_grad=True)
    Scale.apply(x).backward(np.arange(5.0))
    assert x.grad is returned[0]
    np.testing.assert_array_equal(x.grad, 2 * np.arange(5.0))


def test_a_gradient_the_op_does_not_own_is_copied(returned):
    x = nps.tensor(np.ones(5), requires_grad=True)
    ScaleShared.apply(x).backward(np.arange(5.0))
    assert not np.shares_memory(x.grad, returned[0])
    np.testing.assert_array_equal(x.grad, 2 * np.arange(5.0))


def test_the_upstream_gradient_is_never_kept_even_from_an_owning_op():
    g = np.arange(4.0)
    x = nps.tensor(np.ones(4), requires_grad=True)
    Identity.apply(x).backward(g)
    assert not np.shares_memory(x.grad, g)
    x.grad += 1  # the caller's array is untouched
    np.testing.assert_array_equal(g, np.arange(4.0))
    leaf = nps.tensor(np.ones(4), requires_grad=True)
    leaf.backward(g)  # a leaf as the root: its .grad is a copy of the caller's array
    assert not np.shares_memory(leaf.grad, g)


def test_one_array_handed_to_two_inputs_gives_two_grads(returned):
    # add's backward returns g for both inputs: each leaf needs its own copy.
    a = nps.tensor(np.ones(3), requires_grad=True)
    b = nps.tensor(np.ones(3), requires_grad=True)
    (Scale.apply(a) + b).backward(np.ones(3))
    assert not np.shares_memory(a.grad, b.grad)
    (Scale.apply(a) + b).backward(np.ones(3))  # accumulating into one leaves the other alone
    np.testing.assert_array_equal(a.grad, [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(b.grad, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("op", [Scale, ScaleShared])
def test_paths_meeting_at_an_input_are_summed_whoever_owns_them(returned, op):
    x = nps.tensor(np.arange(3.0), requires_grad=True)
    h = op.apply(x)  # used by three paths below, two through owning ops
    y = Scale.apply(h, c=3.0) + Scale.apply(h, c=5.0) + h
    y.backward(np.ones(3))
    np.testing.assert_array_equal(x.grad, [18.0, 18.0, 18.0])  # 2 * (3 + 5 + 1)
    # The owned arrays summed in place were the ops' own: none of them is the caller's.
    assert all(not np.shares_memory(r, x.data) for r in returned)


def test_retain_grad_copies_what_flows_on(returned):
    x = nps.tensor(np.ones(2), requires_grad=True)
    h = Scale.apply(x)
    h.retain_grad()
    Scale.apply(h, c=3.0).backward(np.ones(2))
    assert not np.shares_memory(h.grad, x.grad)
    np.testing.assert_array_equal(h.grad, [3.0, 3.0])
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])


def test_a_layers_gradients_are_its_own_and_accumulate():
    layer = nps.nn.Linear(4, 3, rng=0)
    x = np.random.default_rng(1).standard_normal((5, 4))
    layer(x).sum().backward()
    first = {name: p.grad.copy() for name, p in layer.named_parameters()}
    assert not np.shares_memory(layer.weight.grad, layer.bias.grad)
    layer(x).sum().backward()
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * first[name], rtol=1e-15)
    np.testing.assert_allclose(first["weight"], np.tile(x.sum(0), (3, 1)), rtol=1e-13)
    np.testing.assert_array_equal(first["bias"], [5.0, 5.0, 5.0])
