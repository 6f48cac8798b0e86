"""Cross-checks against the entmax package and PyTorch (optional: skipped when absent).

The entmax package's maps take ``dim`` (``entmax.sparsemax(X, dim=-1)``); its bisection does not
subtract the maximum, so the comparisons use moderate logits where it is accurate.  Rows with a
NaN, ``+inf`` or only ``-inf`` are left out: entmax raises there (variants.md section 3.8).
``torch.topk`` breaks ties differently, so the top-k comparison uses tie-free rows.
"""

from __future__ import annotations

import numpy as np
import pytest

import npsoftmax as nps

torch = pytest.importorskip("torch")
entmax = pytest.importorskip("entmax")

pytestmark = pytest.mark.parametrize("seed", range(3))
parity = pytest.mark.parity


def logits(seed: int, shape=(4, 3, 7)) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 2, shape)


@parity
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_maps_and_gradients_match_entmax(seed, axis):
    x = logits(seed)
    g = np.random.default_rng(seed + 10).normal(size=x.shape)
    pairs = [
        (nps.sparsemax, lambda t: entmax.sparsemax(t, dim=axis)),
        (nps.entmax15, lambda t: entmax.entmax15(t, dim=axis)),
        (
            lambda a, axis: nps.entmax_bisect(a, alpha=1.3, axis=axis),
            lambda t: entmax.entmax_bisect(t, alpha=1.3, dim=axis),
        ),
        (
            lambda a, axis: nps.entmax_bisect(a, alpha=2.5, axis=axis),
            lambda t: entmax.entmax_bisect(t, alpha=2.5, dim=axis),
        ),
    ]
    for ours, theirs in pairs:
        t = torch.tensor(x, requires_grad=True)
        ref = theirs(t)
        ref.backward(torch.tensor(g))
        a = nps.tensor(x, requires_grad=True)
        y = ours(a, axis=axis)
        y.backward(g)
        np.testing.assert_allclose(y.data, ref.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(a.grad, t.grad.numpy(), atol=1e-10)


@parity
def test_alpha_gradient_matches_entmax(seed):
    x = logits(seed, (5, 6))
    g = np.random.default_rng(seed + 20).normal(size=x.shape)
    ta = torch.tensor(1.6, dtype=torch.float64, requires_grad=True)
    entmax.entmax_bisect(torch.tensor(x), alpha=ta, dim=-1).backward(torch.tensor(g))
    a = nps.tensor(1.6, requires_grad=True)
    nps.entmax_bisect(nps.tensor(x), alpha=a).backward(g)
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=1e-8)


@parity
def test_losses_match_entmax(seed):
    x = logits(seed, (6, 5))
    y = np.random.default_rng(seed).integers(0, 5, 6)
    for ours, cls in (
        (nps.sparsemax_loss, entmax.SparsemaxLoss),
        (nps.entmax15_loss, entmax.Entmax15Loss),
    ):
        for red, theirs_red in (("none", "none"), ("sum", "sum"), ("mean", "elementwise_mean")):
            kwargs = {"k": None} if cls is entmax.Entmax15Loss else {}
            t = torch.tensor(x, requires_grad=True)
            ref = cls(reduction=theirs_red, **kwargs)(t, torch.tensor(y))
            ref.backward(torch.ones_like(ref))
            a = nps.tensor(x, requires_grad=True)
            loss = ours(a, y, reduction=red)
            loss.backward(np.ones(loss.shape))
            np.testing.assert_allclose(loss.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(a.grad, t.grad.numpy(), atol=1e-12)


@parity
def test_sparse_softmax_matches_torch_topk(seed):
    x = logits(seed, (5, 8))  # continuous draws: no ties
    for k in (1, 3, 8):
        values, idx = torch.topk(torch.tensor(x), k, dim=-1)
        want = torch.zeros(x.shape, dtype=torch.float64).scatter(
            -1, idx, torch.softmax(values, dim=-1)
        )
        np.testing.assert_allclose(nps.sparse_softmax(x, k=k), want.numpy(), rtol=1e-13)
