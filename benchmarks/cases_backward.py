"""Backward cases: the softmax and log_softmax VJPs against PyTorch's autograd backward.

npsoftmax's side is the op's ``backward`` (what the engine calls: the VJP kernel plus its
result's allocation); PyTorch's side is ``torch.autograd.grad`` of the same op, which also
allocates its result.  The reference is the VJP formula in float64 on SciPy's forward.
"""

from __future__ import annotations

import numpy as np
import scipy.special

from npsoftmax.functional.softmax import LogSoftmaxFunction, SoftmaxFunction

from .cases_forward import logits
from .common import Config, check, timing_row
from .timing import interleaved_medians, median_seconds, optional, set_threads


def _reference(op: str, x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The VJP in float64 and the size of its terms (what rounding errors scale with).

    softmax: ``y * (g - <g, y>)``; log_softmax: ``g - y * sum(g)``, with ``y = softmax(x)``.
    """
    x, g = x.astype(np.float64), g.astype(np.float64)
    y = scipy.special.softmax(x, axis=-1)
    # A float32 sum's error scales with the sum of its terms' magnitudes, not with the sum.
    if op == "softmax":
        s = (g * y).sum(axis=-1, keepdims=True)
        return y * (g - s), y * (np.abs(g) + np.abs(g * y).sum(axis=-1, keepdims=True))
    s = g.sum(axis=-1, keepdims=True)
    return g - y * s, np.abs(g) + y * np.abs(g).sum(axis=-1, keepdims=True)


def _numpy_vjp(op: str, saved: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The NumPy composite of each VJP, from the saved forward output."""
    if op == "softmax":
        return saved * (g - (g * saved).sum(axis=-1, keepdims=True))
    return g - np.exp(saved) * g.sum(axis=-1, keepdims=True)


def backward(op: str, cfg: Config, threads: list[int]) -> list[dict]:
    """The VJP of ``op`` on the headline float32 shape, at each thread count."""
    x = logits((cfg.rows, cfg.classes), np.float32)
    g = logits((cfg.rows, cfg.classes), np.float32, seed=1)
    fn = (SoftmaxFunction if op == "softmax" else LogSoftmaxFunction)()
    fn.needs_input_grad = (True,)
    saved = fn.forward(x)  # the forward output, which the VJP reads
    want, scale = _reference(op, x, g)
    check(f"npsoftmax {op} backward", fn.backward(g)[0], want, scale)
    check(f"NumPy composite {op} VJP", _numpy_vjp(op, saved, g), want, scale)

    torch = optional("torch")
    if torch is not None:
        xt = torch.from_numpy(x).requires_grad_()
        yt = getattr(torch, op)(xt, -1)
        gt = torch.from_numpy(g)

        def torch_vjp() -> object:
            return torch.autograd.grad(yt, xt, gt, retain_graph=True)[0]

        check(f"torch {op} backward", torch_vjp().numpy(), want, scale)
    del want, scale

    composite = median_seconds(lambda: _numpy_vjp(op, saved, g), cfg.slow_repeats)
    rows = []
    for n in threads:
        set_threads(n)
        calls = {"npsoftmax": lambda: fn.backward(g)}
        if torch is not None:
            calls["torch"] = torch_vjp
        times = interleaved_medians(calls, cfg.repeats)
        times["numpy composite"] = composite
        rows.append(timing_row("backward", f"{op} VJP", x.shape, "float32", n, times))
    return rows
