"""AdaptiveLogSoftmaxWithLoss: Grave et al.'s adaptive softmax, with PyTorch's semantics.

Legend: ``x`` input features ``(N, d)``, ``y`` target classes ``(N,)``, ``c_0 < c_1 < ... <
c_K = n_classes`` the cutoffs (``n_classes`` appended), ``h = log_softmax(head(x))`` over the
``c_0`` shortlist classes and one column per cluster, ``tail_i`` cluster ``i``'s two bias-free
layers ``d -> hsz_i -> c_{i+1} - c_i``, ``R_i`` the rows whose target lies in cluster ``i``.

A composite module: every step is a differentiable op (``Linear``, the fused
``cross_entropy`` for the target log-probabilities, ``log_softmax`` for the full ones, indexing,
``concatenate``), so the backward pass needs no hand-written code.  Parameter names, shapes
and validation rules follow PyTorch 2.13's; ``tests/nn/test_adaptive_parity.py`` compares
outputs and gradients with it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..autograd import ops
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..functional.losses import cross_entropy
from ..functional.softmax import log_softmax
from ._adaptive_checks import check_cutoffs, check_div_value, check_targets, projection_widths
from ._checks import check_dtype, check_flag, check_size, make_rng
from .containers import ModuleList, Sequential
from .linear import Linear
from .module import Module


class ASMoutput(NamedTuple):
    """The result of :meth:`AdaptiveLogSoftmaxWithLoss.forward` (PyTorch's ``_ASMoutput``).

    Attributes
    ----------
    output : Tensor
        The log-probability of each example's target, shape ``(N,)`` (``()`` unbatched).
    loss : Tensor
        The mean negative log-likelihood, ``-output.mean()``, 0-d.
    """

    output: Tensor
    loss: Tensor


class AdaptiveLogSoftmaxWithLoss(Module):
    r"""Adaptive softmax (Grave et al. 2017): a cheap softmax over a large, Zipf-like vocabulary.

    **Composite module** with PyTorch's ``torch.nn.AdaptiveLogSoftmaxWithLoss`` semantics: the
    same constructor, attributes, parameter names and layouts (a PyTorch ``state_dict`` loads
    by name after ``{k: v.numpy() for k, v in sd.items()}``), ``forward`` returning
    ``(output, loss)``, ``log_prob`` and ``predict``.

    Labels must be sorted by frequency: class 0 the most frequent, ``n_classes - 1`` the
    least.  The frequent classes ``[0, c_0)`` (the shortlist) are scored by the head, with one
    extra head column per cluster ``[c_i, c_{i+1})``; each cluster has a tail that first
    projects the input to a narrower width ``hsz_i``, so rare classes cost less.

    Parameters
    ----------
    in_features : int
        ``d``, the number of input features (at least 1).
    n_classes : int
        The number of classes (at least 2).
    cutoffs : sequence of int
        Increasing, unique class boundaries in ``[1, n_classes - 1]`` (a list, a ``range`` or a
        1-D integer array).  ``module.cutoffs`` is ``list(cutoffs) + [n_classes]``.
    div_value : float, default 4.0
        Cluster ``i``'s projection width is ``hsz_i = int(in_features // div_value**(i + 1))``
        (Python's floor division, exactly as in PyTorch); it must be at least 1.
    head_bias : bool, default False
        Give the head a bias (the tails never have one).
    dtype : numpy dtype, default numpy.float64
        ``float64`` or ``float32``, the parameters' dtype.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights (PyTorch's ``Linear`` initialisation); a seed is turned
        into a generator once, and the head then every tail draw from it in order.

    Attributes
    ----------
    head : Linear
        ``d -> shortlist_size + n_clusters``.
    tail : ModuleList of Sequential
        ``tail[i] = Sequential(Linear(d, hsz_i, bias=False), Linear(hsz_i, osz_i, bias=False))``.
    cutoffs : list of int
        The cutoffs with ``n_classes`` appended.
    shortlist_size, n_clusters, head_size : int
        ``cutoffs[0]``, the number of cutoffs given, and ``shortlist_size + n_clusters``.

    Raises
    ------
    ValueError
        If ``cutoffs`` is empty, unsorted, repeated, out of ``[1, n_classes - 1]`` or holds a
        non-integer (the message contains 'cutoffs'); if ``div_value`` is not positive and
        finite; if some cluster's width ``hsz_i`` is 0 (PyTorch builds an always-uniform
        cluster then), or the widths' weights would not fit in the machine's memory (a tiny
        ``div_value``); if ``in_features < 1`` or ``n_classes < 2``.
    TypeError
        If ``cutoffs`` is not iterable, or a size or ``div_value`` is not a number.

    Shape
    -----
    - ``forward``: input ``(N, in_features)`` with target ``(N,)``, or ``(in_features,)`` with
      a 0-d target; ``output`` ``(N,)`` (or ``()``), ``loss`` ``()``.
    - ``log_prob``: ``(N, in_features) -> (N, n_classes)`` (or ``(in_features,) ->
      (n_classes,)``).
    - ``predict``: ``(N, in_features) -> (N,)`` int64 (or ``()``).

    Notes
    -----
    Forward, for an example with target :math:`y` and :math:`h = \log\mathrm{softmax}(W_h x
    [+ b_h])`:

    .. math::
        \mathrm{output} = \begin{cases} h_y & y < c_0 \\
        h_{c_0 + i} + \log\mathrm{softmax}(W_{i,1} W_{i,0} x)_{y - c_i}
        & c_i \le y < c_{i+1} \end{cases},
        \qquad \mathrm{loss} = -\frac{1}{N} \sum_n \mathrm{output}_n

    Only the clusters that some target falls into are evaluated; a tail that no target
    reaches gets no gradient (its ``.grad`` stays ``None``, as in PyTorch).  The VJP is the
    composition of log-softmax VJPs: for each row, the head logits get :math:`(p_h -
    e_{\mathrm{col}(y)}) / N` and the used tail's logits :math:`(p_{\mathrm{tail}} - e_{y -
    c_i}) / N`, with :math:`\mathrm{col}(y)` the head column the target reads.

    References
    ----------
    E. Grave, A. Joulin, M. Cissé, D. Grangier, H. Jégou, "Efficient softmax approximation for
    GPUs", ICML 2017, arXiv:1609.04309.

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> asm = nps.nn.AdaptiveLogSoftmaxWithLoss(16, 20, cutoffs=[5, 10, 15], div_value=2.0, rng=0)
    >>> [name for name, _ in asm.named_parameters()][:3]
    ['head.weight', 'tail.0.0.weight', 'tail.0.1.weight']
    >>> asm.cutoffs, asm.head.weight.shape, asm.tail[2][1].weight.shape
    ([5, 10, 15, 20], (8, 16), (5, 2))
    >>> x = np.random.default_rng(0).standard_normal((4, 16))
    >>> out, loss = asm(x, np.array([0, 7, 19, 12]))
    >>> out.shape, bool(np.isclose(loss.item(), -out.data.mean()))
    ((4,), True)
    >>> np.exp(asm.log_prob(x).data).sum(axis=1).round(12)
    array([1., 1., 1., 1.])
    >>> asm.predict(x).shape
    (4,)
    """

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        cutoffs: Any,
        div_value: float = 4.0,
        head_bias: bool = False,
        dtype: Any = np.float64,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        owner = "AdaptiveLogSoftmaxWithLoss"
        in_features = check_size(in_features, "in_features", owner, minimum=1)
        n_classes = check_size(n_classes, "n_classes", owner, minimum=2)
        check_dtype(dtype, owner)
        cuts = check_cutoffs(cutoffs, n_classes)
        div_value = check_div_value(div_value)
        sizes = [stop - start for start, stop in zip(cuts, [*cuts[1:], n_classes])]
        widths = projection_widths(in_features, div_value, sizes, np.dtype(dtype).itemsize)
        self.in_features, self.n_classes, self.div_value = in_features, n_classes, div_value
        self.head_bias = check_flag(head_bias, "head_bias", owner)
        self.cutoffs = [*cuts, n_classes]
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        rng = make_rng(rng, owner)  # one generator: the head, then each tail, draw in order
        self.head = Linear(in_features, self.head_size, bias=self.head_bias, dtype=dtype, rng=rng)
        self.tail = ModuleList(
            [
                Sequential(
                    Linear(in_features, hsz, bias=False, dtype=dtype, rng=rng),
                    Linear(hsz, stop - start, bias=False, dtype=dtype, rng=rng),
                )
                for hsz, start, stop in zip(widths, self.cutoffs, self.cutoffs[1:])
            ]
        )

    # -- checks -------------------------------------------------------------------------------
    def _features(self, input: Any, op: str) -> tuple[Any, bool]:
        """``input`` as a 2-D batch (a Tensor or array) and whether it was batched."""
        x = input if isinstance(input, Tensor) else np.asarray(input)
        if x.ndim not in (1, 2) or x.shape[-1] != self.in_features:
            raise ValueError(
                f"AdaptiveLogSoftmaxWithLoss.{op}: input must have shape (N, in_features) or "
                f"(in_features,) with in_features={self.in_features}, got shape {x.shape}."
            )
        return (x, True) if x.ndim == 2 else (ops.reshape(x, (1, -1)), False)

    def _targets(self, input: Any, target: Any) -> tuple[Any, np.ndarray, bool]:
        """Check ``forward``'s arguments; return the 2-D input, ``(N,)`` targets, batched."""
        shape = input.shape if isinstance(input, Tensor) else np.shape(input)
        y = check_targets(target, shape, self.n_classes)
        x, batched = self._features(input, "forward")
        return x, y, batched

    # -- the model ----------------------------------------------------------------------------
    def forward(self, input: Any, target: Any) -> ASMoutput:
        """Target log-probabilities and their mean negative log-likelihood.

        Parameters
        ----------
        input : array_like or Tensor
            ``(N, in_features)``, or ``(in_features,)`` for one example.
        target : array_like or Tensor
            Integer classes in ``[0, n_classes - 1]``: ``(N,)``, or 0-d for one example.

        Returns
        -------
        ASMoutput
            ``(output, loss)``: ``output`` ``(N,)`` (``()`` unbatched), ``loss`` 0-d Tensors.

        Raises
        ------
        IndexError
            If a target is outside ``[0, n_classes - 1]`` (the message names the values).
        TypeError
            If the target is not integer.
        ValueError
            For mismatched shapes, a wrong feature size, a target of more than one dimension,
            or an empty batch.
        """
        x, y, batched = self._targets(input, target)
        c0 = self.shortlist_size
        col = y.copy()  # the head column each row reads: y itself, or its cluster's column
        pieces, rows = [], []
        for i, (start, stop) in enumerate(zip(self.cutoffs, self.cutoffs[1:])):
            r = np.flatnonzero((y >= start) & (y < stop))  # never squeezed: 1-D for 1 row too
            if r.size == 0:
                continue  # lazy: a cluster no target falls into is never evaluated
            col[r] = c0 + i
            # log p(y | cluster) = -cross_entropy: one fused op that keeps only the logits and
            # writes their gradient in one pass (no gather whose backward scatters into zeros).
            tail_logits = self.tail[i](ops.getitem(x, r))
            pieces.append(-cross_entropy(tail_logits, y[r] - start, reduction="none"))
            rows.append(r)
        output = -cross_entropy(self.head(x), col, reduction="none")
        if pieces:
            # Tail terms in bucket order (0 for shortlist rows), then back in the batch's order.
            short = np.flatnonzero(y < c0)
            tail = ops.concatenate([np.zeros(short.size, dtype=output.dtype), *pieces])
            tail = ops.getitem(tail, np.argsort(np.concatenate([short, *rows])))
            output = tail + output
        loss = ops.mean(-output)
        return ASMoutput(output if batched else ops.reshape(output, ()), loss)

    def _full_log_prob(self, x: Any, head_lp: Any) -> Any:
        """Every class's log-probability from the head's log-softmax ``head_lp``."""
        c0 = self.shortlist_size
        parts = [head_lp[:, :c0]]
        for i, tail in enumerate(self.tail):
            # log p(v) = h[c0 + i] + log p(v | cluster i)
            parts.append(log_softmax(tail(x), axis=1) + head_lp[:, c0 + i : c0 + i + 1])
        return ops.concatenate(parts, axis=1)

    def log_prob(self, input: Any) -> Tensor:
        """Log-probabilities of every class (differentiable, through the head and every tail).

        Parameters
        ----------
        input : array_like or Tensor
            ``(N, in_features)``, or ``(in_features,)`` for one example (PyTorch refuses 1-D).

        Returns
        -------
        Tensor
            ``(N, n_classes)`` (or ``(n_classes,)``); each row's exponentials sum to one.

        Raises
        ------
        ValueError
            If the input is not ``(N, in_features)`` or ``(in_features,)``.
        """
        x, batched = self._features(input, "log_prob")
        out = self._full_log_prob(x, log_softmax(self.head(x), axis=1))
        return out if batched else ops.reshape(out, (self.n_classes,))

    def predict(self, input: Any) -> np.ndarray:
        """The most probable class of each example, evaluating tails only where needed.

        When the head's best column is a shortlist class, that class is the answer (every
        class of cluster ``i`` has ``log p <= h[c_0 + i] <= h[best]``), so no tail runs; only
        rows whose best head column is a cluster get the full log-probabilities.  Ties go to
        the lowest class index (``argmax``'s rule, as in PyTorch).

        Parameters
        ----------
        input : array_like or Tensor
            ``(N, in_features)``, or ``(in_features,)`` for one example.

        Returns
        -------
        numpy.ndarray
            int64 classes, ``(N,)`` (or 0-d); no gradient.

        Raises
        ------
        ValueError
            If the input is not ``(N, in_features)`` or ``(in_features,)``.
        """
        x, batched = self._features(input, "predict")
        with no_grad():
            head = self.head(x).data
            best = np.argmax(head, axis=1).astype(np.int64) if head.size else np.zeros(0, np.int64)
            r = np.flatnonzero(best >= self.shortlist_size)
            if r.size:
                sub = ops.getitem(x, r)
                lp = self._full_log_prob(sub, log_softmax(head[r], axis=1))
                best[r] = np.argmax(lp.data, axis=1)
        return best if batched else best.reshape(())

    def reset_parameters(self, rng: np.random.Generator | int | None = None) -> None:
        """Re-initialise the head and every tail as new ``Linear`` layers would be."""
        gen = make_rng(rng, "AdaptiveLogSoftmaxWithLoss.reset_parameters")
        for old in (self.head, *(layer for seq in self.tail for layer in seq)):
            bias = old.bias is not None
            new = Linear(old.in_features, old.out_features, bias, old.weight.dtype, gen)
            old.weight.data[...] = new.weight.data
            old.weight._version += 1
            if bias:
                old.bias.data[...] = new.bias.data
                old.bias._version += 1

    def extra_repr(self) -> str:
        """The hyperparameters shown by ``repr``."""
        return (
            f"in_features={self.in_features}, n_classes={self.n_classes}, "
            f"cutoffs={self.cutoffs}, div_value={self.div_value}, head_bias={self.head_bias}"
        )
