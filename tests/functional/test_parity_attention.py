"""Optional cross-checks against PyTorch: gumbel, masked, softmax1, seed names (values, grads)."""

import numpy as np
import pytest

import npsoftmax as nps

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = pytest.mark.parity

RNG = np.random.default_rng(5)
X = RNG.normal(size=(4, 6)) * 3
G = RNG.normal(size=(4, 6))


def ours(f, *arrays):
    """Value and gradients (for upstream G) of f on npsoftmax Tensors."""
    ts = [nps.tensor(a, requires_grad=True) for a in arrays]
    y = f(*ts)
    y.backward(G)
    return y.data, [t.grad for t in ts]


def theirs(f, *arrays):
    """The same through torch autograd."""
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = f(*ts)
    y.backward(torch.tensor(G))
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


def assert_same(a, b, rtol=1e-12, atol=1e-14):
    np.testing.assert_allclose(a[0], b[0], rtol=rtol, atol=atol)
    for ga, gb in zip(a[1], b[1]):
        np.testing.assert_allclose(ga, gb, rtol=rtol, atol=atol)


def test_gumbel_softmax_matches_torch_for_the_same_noise():
    noise = -np.log(np.random.default_rng(8).standard_exponential(size=X.shape))
    for hard in (False, True):
        a = ours(lambda t, hard=hard: nps.gumbel_softmax(t, tau=0.6, hard=hard, rng=8), X)

        def ref(t, hard=hard):
            y = torch.softmax((t + torch.tensor(noise)) / 0.6, dim=-1)
            if not hard:
                return y
            h = F.one_hot(y.argmax(-1), y.shape[-1]).to(y.dtype)
            return h - y.detach() + y  # PyTorch's straight-through recipe

        assert_same(a, theirs(ref, X))


def test_masked_softmax_matches_torch_safe_softmax():
    mask = RNG.random(X.shape) > 0.4
    mask[1] = False  # a fully masked row: torch._safe_softmax gives zeros too
    a = ours(lambda t: nps.masked_softmax(t, mask), X)
    m = torch.tensor(mask)
    b = theirs(lambda t: torch._safe_softmax(t.masked_fill(~m, -float("inf")), -1), X)
    assert_same(a, b)


def test_softmax1_matches_torch_with_a_zero_logit():
    def ref(t):
        padded = torch.cat([t, torch.zeros(t.shape[0], 1, dtype=t.dtype)], dim=-1)
        return torch.softmax(padded, dim=-1)[:, :-1]

    assert_same(ours(nps.softmax1, X), theirs(ref, X))


def test_seed_names_match_torch():
    y = RNG.normal(size=X.shape)
    assert_same(ours(nps.selu_softmax, X), theirs(lambda t: torch.softmax(F.selu(t), dim=-1), X))
    assert_same(
        ours(lambda a, b: nps.mm_softmax(a, b, 2.0, 0.5, 0.3), X, y),
        theirs(lambda a, b: torch.softmax(2.0 * 0.5 * a * b / 0.3, dim=-1), X, y),
    )

    def taylor(t):
        f = 1 + t + t**2 / 2
        return f / f.sum(dim=-1, keepdim=True)

    assert_same(ours(nps.taylor_softmax, X), theirs(taylor, X))
    assert_same(ours(nps.online_softmax, X), theirs(lambda t: torch.softmax(t, dim=-1), X))
    assert_same(
        ours(lambda t: nps.local_softmax(t, 3), X),
        theirs(lambda t: torch.cat([torch.softmax(c, -1) for c in t.split(2, -1)], -1), X),
    )
