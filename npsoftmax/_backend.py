"""Which kernel backend runs the row kernels: ``"numba"`` (default) or ``"numpy"``.

The choice is Python-level dispatch in :mod:`npsoftmax.kernels`; nothing here is read inside
compiled code (Numba freezes globals at compile time, so a jitted kernel could never see a change).

* ``"numba"``: the compiled loops of :mod:`npsoftmax.kernels.numba_cpu` (fast; the first call per
  dtype compiles, later sessions load the on-disk cache).
* ``"numpy"``: the vectorised twins of :mod:`npsoftmax.kernels.reference` (readable; never imports
  Numba, so nothing is compiled).

The initial backend comes from the environment variable ``NPSOFTMAX_BACKEND`` (unset or empty
means ``"numba"``); an invalid value raises ``ValueError`` when this module is imported.

The state is one module-level value shared by all threads: :func:`use_backend` is a convenience
for scripts and tests, not a thread-local setting.

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

BACKENDS = ("numba", "numpy")
ENV_VAR = "NPSOFTMAX_BACKEND"


def _checked(name: object, source: str) -> str:
    """Return ``name`` if it is a valid backend name, else raise a ``ValueError`` naming it."""
    if not (isinstance(name, str) and name in BACKENDS):
        raise ValueError(
            f"{source} must be one of {', '.join(repr(b) for b in BACKENDS)}, got {name!r}."
        )
    return name


# The one piece of state: the active backend's name.
_active = _checked(os.environ.get(ENV_VAR) or "numba", f"The environment variable {ENV_VAR}")


def get_backend() -> str:
    """Return the name of the active backend, ``"numba"`` or ``"numpy"``.

    Returns
    -------
    str
        The backend the row kernels dispatch to.

    Examples
    --------
    >>> import npsoftmax as nps
    >>> with nps.use_backend("numpy"):
    ...     nps.get_backend()
    'numpy'
    """
    return _active


def set_backend(name: str) -> None:
    """Make ``name`` (``"numba"`` or ``"numpy"``) the active backend.

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
    global _active
    _active = _checked(name, "The backend name")


@contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Run a block with backend ``name``, restoring the previous backend afterwards.

    The previous backend is restored even when the block raises.

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
    previous = get_backend()
    set_backend(name)
    try:
        yield name
    finally:
        set_backend(previous)
