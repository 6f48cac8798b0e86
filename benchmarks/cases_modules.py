"""Module and sparse-map cases: one training step against PyTorch at every core.

* ``MixtureOfSoftmaxes(5, 256, 10000)``: forward, ``-mean(log p[target])``, backward, on 256 rows;
  PyTorch's side is the same module written with ``torch.nn`` (zeta's layout).
* ``AdaptiveLogSoftmaxWithLoss(512, 100000, [2000, 10000, 50000])``: one step on 1024 targets
  drawn from Zipf's law over the vocabulary (:func:`zipf_targets`), against
  ``torch.nn.AdaptiveLogSoftmaxWithLoss`` and against a full softmax over the same vocabulary in
  npsoftmax (target: at least 20x faster than the latter).
* ``sparsemax`` and ``entmax15`` forward + backward against the ``entmax`` package.

These need modules other engineers are writing: while a callee raises ``NotImplementedError``
(or is not there yet) the case is skipped with that message.  Every case first copies PyTorch's
weights into npsoftmax's module and checks the loss; where the parameter names differ the check
is reported as not done rather than guessed.

Threads: Numba and PyTorch at every core; NumPy's matmul uses its BLAS's default (every core).
PyTorch's steps run in a process of their own, without npsoftmax (:mod:`benchmarks.torch_steps`
says why; :class:`benchmarks.peer.TorchSteps`), in blocks alternating with npsoftmax's.
"""

from __future__ import annotations

import numpy as np

import npsoftmax as nps

from .common import Config, skipped_row, timing_row
from .peer import TorchSteps
from .timing import block_medians, max_threads, median_seconds, optional, set_threads


def zipf_targets(rng: np.random.Generator, n: int, size: int, s: float = 1.1) -> np.ndarray:
    """Labels drawn from Zipf's law over ``n`` classes, ``p_k ~ (k + 1)**-s``: class 0 the most
    frequent, as the adaptive softmax requires (the tutorial's and the tests' distribution).

    Not ``minimum(rng.zipf(s), n) - 1``: clipping the unbounded law puts every draw above ``n``
    (31% of them for ``s = 1.1, n = 100000``) on the *rarest* class.
    """
    p = np.arange(1, n + 1, dtype=np.float64) ** -s
    return rng.choice(n, size=size, p=p / p.sum())


def _unavailable(build) -> str | None:
    """None if ``build()`` works, else why the case must be skipped."""
    try:
        build()
    except (NotImplementedError, AttributeError) as err:
        return f"npsoftmax side not available yet ({type(err).__name__}: {err})"
    return None


def _copy_weights(theirs: dict[str, np.ndarray], nps_model) -> str:
    """Load PyTorch's parameters (by name) into the npsoftmax module; return what was done."""
    mine = dict(nps_model.state_dict())
    if set(mine) != set(theirs):
        return f"weights not shared (names differ: {sorted(set(mine) ^ set(theirs))[:4]})"
    nps_model.load_state_dict({k: theirs[k].astype(np.asarray(mine[k]).dtype) for k in mine})
    return "same weights as torch"


def _check_loss(name: str, ours: float, theirs: float, shared: str) -> str:
    """Compare the losses when the weights are shared; the note for the report."""
    if shared != "same weights as torch":
        return shared
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, err_msg=f"{name}: loss differs from torch")
    return "loss checked against torch (same weights), torch in a process of its own"


def mixture_of_softmaxes(cfg: Config, threads: list[int]) -> list[dict]:
    """One MixtureOfSoftmaxes training step against the same step in PyTorch."""
    k, d, c, batch = cfg.mos
    reason = _unavailable(lambda: nps.nn.MixtureOfSoftmaxes(k, d, c))
    if reason or optional("torch") is None:
        return [skipped_row("MixtureOfSoftmaxes step", reason or "PyTorch is not installed.")]
    set_threads(max_threads())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, d), dtype=np.float32)
    target = rng.integers(0, c, batch)
    ours = nps.nn.MixtureOfSoftmaxes(k, d, c, dtype=np.float32)  # like with like: torch's
    xs, ts = nps.tensor(x), target[:, None]

    def nps_step() -> float:
        ours.zero_grad()
        loss = -nps.mean(nps.log(nps.take_along_axis(ours(xs), ts, axis=-1)))
        loss.backward()
        return float(loss.data)

    spec = {"model": "mos", "k": k, "d": d, "c": c}
    with TorchSteps(spec, x, target, max_threads()) as theirs:
        shared = _copy_weights(theirs.weights, ours)
        note = _check_loss("MixtureOfSoftmaxes", nps_step(), theirs.loss, shared)
        times = block_medians({"npsoftmax": nps_step, "torch": theirs}, cfg.module_repeats)
    return [
        timing_row(
            "modules",
            f"MixtureOfSoftmaxes{k, d, c} step",
            (batch, d),
            "float32",
            max_threads(),
            times,
            note=note,
        )
    ]


def adaptive_softmax(cfg: Config, threads: list[int]) -> list[dict]:
    """One AdaptiveLogSoftmaxWithLoss step vs PyTorch's, and vs a full softmax in npsoftmax."""
    d, n, cutoffs, batch = cfg.adaptive
    reason = _unavailable(lambda: nps.nn.AdaptiveLogSoftmaxWithLoss(d, n, list(cutoffs)))
    if reason or optional("torch") is None:
        return [
            skipped_row("AdaptiveLogSoftmaxWithLoss step", reason or "PyTorch is not installed.")
        ]
    set_threads(max_threads())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, d), dtype=np.float32)
    target = zipf_targets(rng, n, batch)
    ours = nps.nn.AdaptiveLogSoftmaxWithLoss(d, n, list(cutoffs), div_value=4.0, dtype=np.float32)
    xs = nps.tensor(x)

    def nps_step() -> float:
        ours.zero_grad()
        loss = ours(xs, target).loss
        loss.backward()
        return float(loss.data)

    # The baseline the adaptive softmax exists to beat: one Linear(d, n) and a full softmax,
    # with the same fused cross-entropy the adaptive module uses for its target log-probabilities.
    w = nps.tensor(0.02 * rng.standard_normal((n, d), dtype=np.float32), requires_grad=True)

    def full_step() -> float:
        w.grad = None
        loss = nps.cross_entropy(nps.matmul(xs, nps.transpose(w)), target)
        loss.backward()
        return float(loss.data)

    spec = {"model": "adaptive", "d": d, "n": n, "cutoffs": list(cutoffs), "div_value": 4.0}
    with TorchSteps(spec, x, target, max_threads()) as theirs:
        shared = _copy_weights(theirs.weights, ours)
        note = _check_loss("AdaptiveLogSoftmaxWithLoss", nps_step(), theirs.loss, shared)
        times = block_medians({"npsoftmax": nps_step, "torch": theirs}, cfg.module_repeats)
    times["npsoftmax full softmax"] = median_seconds(full_step, cfg.module_repeats)  # ~20x
    case = f"AdaptiveLogSoftmaxWithLoss({d}, {n}, {list(cutoffs)}) step"
    return [timing_row("modules", case, (batch, d), "float32", max_threads(), times, note=note)]


def sparse_maps(cfg: Config, threads: list[int]) -> list[dict]:
    """sparsemax and entmax15 forward + backward against the entmax package, at each count."""
    entmax, torch = optional("entmax"), optional("torch")
    rows = []
    for name in ("sparsemax", "entmax15"):
        fn = getattr(nps, name)
        reason = _unavailable(lambda fn=fn: fn(np.zeros((2, 3))))
        if reason or entmax is None:
            rows.append(
                skipped_row(f"{name} step", reason or "the entmax package is not installed.")
            )
            continue
        x = 2 * np.random.default_rng(0).standard_normal(cfg.sparse_shape, dtype=np.float32)
        g = np.random.default_rng(1).standard_normal(cfg.sparse_shape, dtype=np.float32)
        peer = getattr(entmax, name)
        np.testing.assert_allclose(
            np.asarray(fn(x)),
            peer(torch.from_numpy(x), dim=-1).numpy(),
            rtol=1e-4,
            atol=1e-6,
            err_msg=f"npsoftmax.{name} disagrees with entmax.{name}",
        )
        xs = nps.tensor(x, requires_grad=True)
        xt = torch.from_numpy(x).requires_grad_()
        gt = torch.from_numpy(g)

        def nps_step(fn=fn, xs=xs, g=g) -> None:
            xs.grad = None
            fn(xs).backward(g)

        def torch_step(peer=peer, xt=xt, gt=gt) -> None:
            xt.grad = None
            peer(xt, dim=-1).backward(gt)

        for n in threads:
            set_threads(n)
            times = {
                "npsoftmax": median_seconds(nps_step, cfg.module_repeats),
                "entmax": median_seconds(torch_step, cfg.module_repeats),
            }
            rows.append(
                timing_row("sparse", f"{name} forward+backward", x.shape, "float32", n, times)
            )
    return rows
