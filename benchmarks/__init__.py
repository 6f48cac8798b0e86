"""npsoftmax's benchmark suite: npsoftmax against NumPy, SciPy, PyTorch and entmax, like with like.

Run it from the repository root::

    python -m benchmarks                  # everything but the 16 GB dask row (several minutes)
    python -m benchmarks --quick          # small sizes, few repeats: well under a minute
    python -m benchmarks --only softmax,backward --threads 1,2
    python -m benchmarks --full           # also streams 16 GB through dask (minutes)

It writes ``benchmarks/results/latest.json`` and ``latest.md`` (``--out`` elsewhere) and, when
matplotlib is installed, the scaling plot ``scaling.png``.

How it measures (each rule is in one place):

* :mod:`benchmarks.timing`: the median of several repeats after a warm-up call (the first Numba
  call compiles); thread counts are set for Numba and PyTorch together, so every comparison is
  at the same thread count.  NumPy and SciPy run these ops on one thread whatever the count (no
  BLAS is involved), so they are measured once and shown at every count.
* Every implementation's result is checked against the reference (SciPy, or npsoftmax's NumPy
  backend for the VJPs) with ``numpy.testing.assert_allclose`` before it is timed.
* A ratio is always ``time(peer) / time(npsoftmax)``: above 1, npsoftmax is faster.  Against the
  memory floors (``np.copyto(out, x)``, ``x.copy()``, a parallel copy at the same thread count) it
  says how close to the floor npsoftmax runs (1 would be at the floor).

One module per topic: :mod:`~benchmarks.cases_forward` (forward, float32/float64, small inputs),
:mod:`~benchmarks.cases_backward`, :mod:`~benchmarks.cases_memory`,
:mod:`~benchmarks.cases_scaling`, :mod:`~benchmarks.cases_modules`,
:mod:`~benchmarks.cases_dask`; :mod:`~benchmarks.suite` lists them and runs the selection,
:mod:`~benchmarks.report` writes the results.
"""
