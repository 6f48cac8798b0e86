"""clip: constant bounds (gradient on the boundaries, one-sided, crossed, dtypes) and Tensor
bounds, which are differentiated with PyTorch's clamp conventions (x gets g where
lo <= x <= hi, lo where x < lo < hi, hi where x > hi or hi < lo, nothing at NaN) and broadcast.

The oracle is written out per element (``clamp_grads``) and needs no torch; the parity tests
compare with ``torch.clamp`` when torch is installed.
"""

import numpy as np
import pytest

import npsoftmax as nps
from npsoftmax.testing import check_grads


def test_clip_gradient_passes_on_the_boundaries_like_pytorch():
    x = nps.tensor([-2.0, -1.0, 0.0, 1.0, 2.0, np.nan], requires_grad=True)
    y = nps.clip(x, -1.0, 1.0)
    np.testing.assert_array_equal(y.data, [-1.0, -1.0, 0.0, 1.0, 1.0, np.nan])
    y.backward(np.ones(6))
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0, 1.0, 0.0, 0.0])


@pytest.mark.parametrize(("lo", "hi"), [(0.0, None), (None, 0.0), (None, None), (1.0, -1.0)])
def test_clip_one_sided_open_and_crossed_bounds(lo, hi):
    x = np.array([-2.0, 0.5, 2.0])
    t = nps.tensor(x, requires_grad=True)
    y = nps.clip(t, lo, hi)
    expected = x if lo is None and hi is None else np.clip(x, lo, hi)
    np.testing.assert_array_equal(y.data, expected)
    y.sum().backward()
    inside = (x >= (-np.inf if lo is None else lo)) & (x <= (np.inf if hi is None else hi))
    np.testing.assert_array_equal(t.grad, inside.astype(float))


def test_clip_with_numpy_scalar_bounds_keeps_float32():
    assert nps.clip(np.float32([1.0, 5.0]), np.float64(0), np.float64(2)).dtype == np.float32


# -- Tensor bounds ------------------------------------------------------------------------------
NAN = np.nan
# x, lo, hi covering inside, both boundaries, outside on each side, crossed bounds (lo > hi),
# equal bounds, and NaN in x and in each bound.
X = np.array([-2.0, 0.0, 0.5, 1.0, 3.0, NAN, 0.5, 0.5, 0.5, -1.0, 2.0, 0.5, 0.5, -2.0])
LO = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, NAN, 1.0, 0.5, 0.5, 0.5, 0.0, NAN, 0.0])
HI = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.5, 0.5, 0.5, NAN, NAN, NAN])


def clamp_grads(x, lo, hi):
    """Per-element oracle of d(sum clip(x, lo, hi)) for x, lo, hi (PyTorch's rules)."""
    dx, dlo, dhi = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    for i, (v, a, b) in enumerate(zip(x, lo, hi)):
        dx[i] = float(a <= v <= b)  # every comparison with NaN is False
        dlo[i] = float(v < a and a < b)
        dhi[i] = float(v > b or b < a)
    return dx, dlo, dhi


def test_tensor_bounds_get_their_gradients():
    x, lo, hi = (nps.tensor(a, requires_grad=True) for a in (X, LO, HI))
    y = nps.clip(x, lo, hi)
    np.testing.assert_array_equal(y.data, np.clip(X, LO, HI))
    y.sum().backward()
    dx, dlo, dhi = clamp_grads(X, LO, HI)
    np.testing.assert_array_equal(x.grad, dx)
    np.testing.assert_array_equal(lo.grad, dlo)
    np.testing.assert_array_equal(hi.grad, dhi)


def test_crossed_bounds_give_hi_everywhere_and_all_of_its_gradient():
    x = nps.tensor([-1.0, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
    lo, hi = nps.tensor(1.0, requires_grad=True), nps.tensor(0.0, requires_grad=True)
    y = nps.clip(x, lo, hi)
    np.testing.assert_array_equal(y.data, np.zeros(5))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros(5))
    assert lo.grad == 0.0 and hi.grad == 5.0


@pytest.mark.parametrize("side", ["lo", "hi"])
def test_one_sided_tensor_bound(side):
    x = nps.tensor([-1.0, 0.0, 1.0, NAN], requires_grad=True)
    bound = nps.tensor([0.0, 0.0, 0.0, 0.0], requires_grad=True)
    y = nps.clip(x, bound, None) if side == "lo" else nps.clip(x, None, bound)
    y.sum().backward()
    if side == "lo":
        np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0, 0.0])
        np.testing.assert_array_equal(bound.grad, [1.0, 0.0, 0.0, 0.0])
    else:
        np.testing.assert_array_equal(x.grad, [1.0, 1.0, 0.0, 0.0])
        np.testing.assert_array_equal(bound.grad, [0.0, 0.0, 1.0, 0.0])


def test_broadcast_bounds_get_gradients_of_their_own_shape():
    rng = np.random.default_rng(3)
    x = nps.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    lo = nps.tensor(rng.normal(size=(3, 1)) - 0.5, requires_grad=True)
    hi = nps.tensor(rng.normal(size=(4,)) + 0.5, requires_grad=True)
    nps.clip(x, lo, hi).sum().backward()
    xb, lob, hib = np.broadcast_arrays(x.data, lo.data, hi.data)
    dx, dlo, dhi = (d.reshape(3, 4) for d in clamp_grads(xb.ravel(), lob.ravel(), hib.ravel()))
    np.testing.assert_array_equal(x.grad, dx)
    np.testing.assert_array_equal(lo.grad, dlo.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(hi.grad, dhi.sum(axis=0))


def test_a_bound_may_broadcast_x_up():
    x = nps.tensor(0.5, requires_grad=True)
    hi = nps.tensor([0.0, 1.0, 0.25], requires_grad=True)
    y = nps.clip(x, None, hi)
    assert y.shape == (3,)
    y.sum().backward()
    assert x.grad == 1.0
    np.testing.assert_array_equal(hi.grad, [1.0, 0.0, 1.0])


def test_tensor_bound_gradients_by_finite_differences():
    # Away from the kinks (x at least 0.1 from each bound), lo < hi everywhere.
    x = np.array([-1.0, 0.0, 0.5, 2.0, 0.3])
    lo = np.array([-0.5, -0.5, 0.2, 0.2, 0.6])
    hi = np.array([1.0, 1.0, 1.0, 1.5, 0.9])
    check_grads(lambda a, b, c: nps.clip(a, b, c), x, lo, hi)


def test_constant_and_tensor_bounds_mix():
    x = nps.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    hi = nps.tensor(1.0, requires_grad=True)
    nps.clip(x, np.array([0.0, 0.0, 0.0]), hi).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])
    assert hi.grad == 1.0


def test_a_tensor_bound_promotes_like_any_tensor_operand():
    # Constant 0-d bounds are weak (float32 stays float32); a float64 Tensor bound is an
    # operand like any other, and NumPy's rules make the result float64, as np.clip does.
    x = nps.tensor(np.float32([1.0, 2.0, 3.0]), requires_grad=True)
    assert nps.clip(x, np.float64(1.5), 2.5).dtype == np.float32
    lo = nps.tensor(1.5, requires_grad=True)
    y = nps.clip(x, lo, 2.5)
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32 and lo.grad.dtype == np.float64


def test_bounds_that_do_not_broadcast_are_named():
    x = nps.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"clip: shapes \(2, 3\) \(x\), \(4,\) \(lo\)"):
        nps.clip(x, nps.tensor(np.zeros(4)), None)


def test_non_numeric_bound_is_refused():
    with pytest.raises(TypeError, match="clip: bounds must be numbers"):
        nps.clip(nps.tensor([1.0]), "a")


def test_numpy_input_with_array_bounds_stays_numpy():
    y = nps.clip(np.array([-1.0, 0.5, 2.0]), np.array([0.0, 0.0, 0.0]), 1.0)
    assert isinstance(y, np.ndarray)
    np.testing.assert_array_equal(y, [0.0, 0.5, 1.0])


@pytest.mark.parity
def test_parity_with_torch_clamp_tensor_bounds():
    torch = pytest.importorskip("torch")
    ours = [nps.tensor(a, requires_grad=True) for a in (X, LO, HI)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (X, LO, HI)]
    y = nps.clip(*ours)
    ty = torch.clamp(*theirs)
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    y.sum().backward()
    ty.sum().backward()
    for a, t in zip(ours, theirs):
        np.testing.assert_array_equal(a.grad, t.grad.numpy())


@pytest.mark.parity
def test_parity_with_torch_clamp_broadcast_and_one_sided():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 4))
    bound = rng.normal(size=(4,))
    for kwargs in ({"min": bound}, {"max": bound}, {"min": bound - 1, "max": bound[:, None][:3]}):
        # (3, 1) max against (4,) min: crossed somewhere, broadcast everywhere.
        names = {"min": "lo", "max": "hi"}
        ours_x = nps.tensor(x, requires_grad=True)
        ours_b = {names[k]: nps.tensor(v, requires_grad=True) for k, v in kwargs.items()}
        theirs_x = torch.tensor(x, requires_grad=True)
        theirs_b = {k: torch.tensor(v, requires_grad=True) for k, v in kwargs.items()}
        y = nps.clip(ours_x, ours_b.get("lo"), ours_b.get("hi"))
        ty = torch.clamp(theirs_x, **theirs_b)
        np.testing.assert_array_equal(y.data, ty.detach().numpy())
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_array_equal(ours_x.grad, theirs_x.grad.numpy())
        for k in kwargs:
            np.testing.assert_array_equal(ours_b[names[k]].grad, theirs_b[k].grad.numpy())
