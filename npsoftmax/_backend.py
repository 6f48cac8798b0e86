"""Which kernel backend runs the row kernels: ``"numba"`` (default) or ``"numpy"``.

The choice is Python-level dispatch in :mod:`npsoftmax.kernels`; nothing here is read inside
compiled code (Numba freezes globals at compile time, so a jitted kernel could never see a change).

* ``"numba"``: the compiled loops of :mod:`npsoftmax.kernels.numba_cpu` (fast; the first call per
  dtype compiles, later sessions load the on-disk cache).
* ``"numpy"``: the vectorised twins of :mod:`npsoftmax.kernels.reference` (readable; never imports
  Numba, so nothing is compiled).

The initial backend comes from the environment variable ``NPSOFTMAX_BACKEND`` (unset or empty
means ``"numba"``); an invalid value raises ``ValueError`` when this module is imported.

Two levels of state decide the active backend:

* the **process-wide setting**, changed by :func:`set_backend` (and initially read from
  ``NPSOFTMAX_BACKEND``), which every thread sees unless it has a scoped choice of its own;
* a **scoped choice**, made by :func:`use_backend` for the duration of a ``with`` block. It lives in
  a :class:`contextvars.ContextVar`, so it is private to the thread (or asyncio task) that opened
  the block: other threads keep seeing the process-wide setting, and leaving the block always
  restores exactly what that thread saw before, however the threads interleave.

A thread started while a ``use_backend`` block is open does not inherit the block's choice: it
starts with the process-wide setting (copy the context with :func:`contextvars.copy_context` and
run in it to pass a scoped choice on).

Examples
--------
>>> from npsoftmax._backend import get_backend, use_backend
>>> with use_backend("numpy"):
...     get_backend()
'numpy'
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

BACKENDS = ("numba", "numpy")
ENV_VAR = "NPSOFTMAX_BACKEND"


def _checked(name: object, source: str) -> str:
    """Return ``name`` if it is a valid backend name, else raise a ``ValueError`` naming it."""
    if not (isinstance(name, str) and name in BACKENDS):
        raise ValueError(
            f"{source} must be one of {', '.join(repr(b) for b in BACKENDS)}, got {name!r}."
        )
    return name


# The process-wide setting, shared by all threads (one assignment: atomic under the GIL).
_default = _checked(os.environ.get(ENV_VAR) or "numba", f"The environment variable {ENV_VAR}")
# The scoped choice of use_backend, private to each thread / task; None means "no block open".
_scoped: ContextVar[str | None] = ContextVar("npsoftmax_backend", default=None)


def get_backend() -> str:
    """Return the name of the active backend, ``"numba"`` or ``"numpy"``.

    This is the innermost :func:`use_backend` choice open in the calling thread, or else the
    process-wide setting of :func:`set_backend` / ``NPSOFTMAX_BACKEND``.

    Returns
    -------
    str
        The backend the row kernels dispatch to in the calling thread.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> with nps.use_backend("numpy"):
    ...     nps.get_backend()
    'numpy'
    """
    scoped = _scoped.get()
    return _default if scoped is None else scoped


def set_backend(name: str) -> None:
    """Make ``name`` (``"numba"`` or ``"numpy"``) the process-wide backend.

    Every thread without an open :func:`use_backend` block uses it, threads started later
    included. It also takes effect at once in the calling thread: for the rest of any
    ``use_backend`` block open there, ``get_backend()`` returns ``name``, and leaving the block
    restores that block's caller's view (the new process-wide setting if no outer block is open).
    Blocks open in other threads keep their own choice until they end.

    Parameters
    ----------
    name : str
        ``"numba"`` (compiled kernels, the default) or ``"numpy"`` (the readable reference).

    Raises
    ------
    ValueError
        If ``name`` is not one of the backend names; the active backend is left unchanged.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> previous = nps.get_backend()
    >>> nps.set_backend("numpy")
    >>> nps.get_backend()
    'numpy'
    >>> nps.set_backend(previous)
    """
    global _default
    _default = _checked(name, "The backend name")
    if _scoped.get() is not None:  # so set-then-get agrees in this thread even inside a block
        _scoped.set(None)


@contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Run a block with backend ``name`` in the calling thread, then restore the previous one.

    The choice is scoped to the block and to the thread (or asyncio task) that runs it: other
    threads, and threads started inside the block, see the process-wide setting of
    :func:`set_backend`. Leaving the block, even by an exception, restores what this thread saw
    before; blocks nest. This makes it safe to use from many threads at once.

    Parameters
    ----------
    name : str
        ``"numba"`` or ``"numpy"``.

    Yields
    ------
    str
        ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not one of the backend names (raised before anything changes).

    Examples
    --------
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> with nps.use_backend("numpy"):  # the readable NumPy twins
    ...     p = nps.softmax(np.array([0.0, np.log(3.0)]))
    >>> p
    array([0.25, 0.75])
    """
    token = _scoped.set(_checked(name, "The backend name"))
    try:
        yield name
    finally:
        _scoped.reset(token)
