"""In-place changes between forward and backward: every op either refuses to differentiate a
graph whose input an optimizer step has changed, or gives the gradient at the forward's values.

Never a third outcome: a gradient taken at the new values, silently (the reason PyTorch counts
versions).  Each case runs the op twice on the same parameter, steps the optimizer between the
two backwards, and compares the second gradient with one taken before any step.
"""

import numpy as np
import pytest

import npsoftmax as nps

F = nps.functional
RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 5))
TARGET = np.array([0, 4, 2])
G = RNG.standard_normal((3, 5))

# Each case: (name, op of the parameter w (shape (3, 5)), and the scalar it is multiplied by).
CASES = [
    ("softmax", lambda w: F.softmax(w)),
    ("log_softmax", lambda w: F.log_softmax(w)),
    ("logsumexp", lambda w: F.logsumexp(w, axis=-1)),
    ("softmin", lambda w: F.softmin(w)),
    ("temp_softmax", lambda w: F.temp_softmax(w, 0.7)),
    ("temp_softmax of the temperature", lambda w: F.temp_softmax(nps.tensor(X), w[0, 0] + 2.0)),
    ("logit_scaled_softmax", lambda w: F.logit_scaled_softmax(w, 1.3)),
    ("masked_softmax", lambda w: F.masked_softmax(w, X > -1.0)),
    ("softmax1", lambda w: F.softmax1(w)),
    ("online_softmax", lambda w: F.online_softmax(w)),
    ("sparsemax", lambda w: F.sparsemax(w)),
    ("entmax15", lambda w: F.entmax15(w)),
    ("entmax_bisect", lambda w: F.entmax_bisect(w, 1.3)),
    ("sparse_softmax", lambda w: F.sparse_softmax(w, 2)),
    ("taylor_softmax", lambda w: F.taylor_softmax(w)),
    ("norm_exp_softmax", lambda w: F.norm_exp_softmax(w)),
    ("selu_softmax", lambda w: F.selu_softmax(w)),
    ("cross_entropy", lambda w: F.cross_entropy(w, TARGET)),
    ("cross_entropy, smoothed", lambda w: F.cross_entropy(w, TARGET, label_smoothing=0.1)),
    ("nll_loss", lambda w: F.nll_loss(w, TARGET)),
    ("sparsemax_loss", lambda w: F.sparsemax_loss(w, TARGET)),
    ("entmax15_loss", lambda w: F.entmax15_loss(w, TARGET)),
    ("multiply", lambda w: w * w),
    ("divide", lambda w: 1.0 / (w * w + 1.0)),
    ("power", lambda w: w**3),
    ("exp", lambda w: nps.exp(w)),
    ("log", lambda w: nps.log(w * w + 1.0)),
    ("tanh", lambda w: nps.tanh(w)),
    ("sigmoid", lambda w: nps.sigmoid(w)),
    ("relu", lambda w: nps.relu(w)),
    ("selu", lambda w: nps.selu(w)),
    ("clip", lambda w: nps.clip(w, -0.5, 0.5)),
    ("where", lambda w: nps.where(w > 0, w, 0.0)),
    ("max", lambda w: nps.max(w, axis=1)),
    ("matmul", lambda w: nps.matmul(w, w.T)),
    ("add", lambda w: w + 1.0),
    ("getitem", lambda w: w[1:, ::2]),
    ("take_along_axis", lambda w: nps.take_along_axis(w, TARGET[:, None], axis=1)),
]


def _weighted(y):
    g = np.resize(G, y.shape) if y.ndim else G[0, 0]
    return (y * g).sum()


@pytest.mark.parametrize(("name", "op"), CASES, ids=[c[0] for c in CASES])
def test_after_a_step_a_graph_refuses_or_gives_the_forward_gradient(name, op):
    w = nps.tensor(X.copy(), requires_grad=True)
    _weighted(op(w)).backward()
    before = w.grad.copy()
    w.grad = None

    stale = _weighted(op(w))
    opt = nps.optim.SGD([w], lr=0.3)
    w.grad = np.ones_like(X)
    opt.step()  # w changes in place
    opt.zero_grad()
    try:
        stale.backward()
    except RuntimeError as err:
        assert "modified by an in-place operation" in str(err)
        return
    # Not refused: then the backward did not read w's values, and its gradient is the one at
    # the forward's point.
    np.testing.assert_allclose(w.grad, before, rtol=1e-12, atol=1e-15)


def test_the_cases_reach_both_outcomes():
    # The property above could hold vacuously if every op refused: some must not.
    outcomes = set()
    for _, op in CASES:
        w = nps.tensor(X.copy(), requires_grad=True)
        stale = _weighted(op(w))
        w.grad = np.ones_like(X)
        nps.optim.SGD([w], lr=0.3).step()
        try:
            stale.backward()
            outcomes.add("ran")
        except RuntimeError:
            outcomes.add("refused")
    assert outcomes == {"ran", "refused"}
