"""Checkpoints: a module's ``state_dict`` as a ``.npz`` file, read back without pickle."""

from __future__ import annotations

import contextlib
import os
import zipfile
from typing import IO, Any

import numpy as np

from .module import Module

__all__ = ["load", "save"]

PathOrFile = str | os.PathLike | IO[bytes]


def save(module: Module, path: PathOrFile) -> None:
    """Write ``module.state_dict()`` to ``path`` as an uncompressed ``.npz`` archive.

    Parameters
    ----------
    module : Module
        The module whose parameters are saved, one ``<dotted name>.npy`` entry each.
    path : str, os.PathLike or binary file object
        Where to write, used exactly as given (NumPy's ``savez`` would append ``.npz`` to a
        name without it; this does not).

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If ``module`` is not a :class:`Module`.
    OSError
        If the file cannot be written.

    Notes
    -----
    The archive is what ``numpy.savez`` writes (a zip of ``.npy`` files), written entry by
    entry with ``allow_pickle=False`` so that any name is allowed (``numpy.savez(file,
    **state)`` would clash on a parameter called ``file``).  Values are stored in their own
    dtype, so a round trip through :func:`load` is bit-exact.  No maths, no gradient: this is
    I/O.

    References
    ----------
    .. [1] NumPy Enhancement Proposal 1, "A Simple File Format for NumPy Arrays" (the ``.npy``
       format inside the archive).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> layer = nps.nn.Linear(3, 2, rng=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "linear.npz")
    >>> nps.nn.save(layer, path)
    >>> sorted(np.load(path, allow_pickle=False).files)
    ['bias', 'weight']
    """
    if not isinstance(module, Module):
        raise TypeError(f"save expects a Module, got {type(module).__name__}.")
    state = module.state_dict()
    with _open(path, "wb") as f, zipfile.ZipFile(f, mode="w") as archive:
        for name, value in state.items():
            with archive.open(name + ".npy", mode="w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, value, allow_pickle=False)


def load(module: Module, path: PathOrFile) -> Module:
    """Load the parameters saved by :func:`save` into ``module``; return ``module``.

    Parameters
    ----------
    module : Module
        A module of the same architecture; it keeps its dtype (values are cast to it).
    path : str, os.PathLike or binary file object
        A ``.npz`` archive.

    Returns
    -------
    Module
        ``module`` itself, loaded, so that ``model = load(Model(...), path)`` reads well.

    Raises
    ------
    TypeError
        If ``module`` is not a Module, or an entry is not a numeric array (object arrays are
        never unpickled).
    ValueError
        If the file is not an ``.npz`` archive, or an entry is missing, extra or wrongly
        shaped (the message names it); nothing is loaded then.
    FileNotFoundError
        If ``path`` does not exist.

    Notes
    -----
    The file is read with ``numpy.load(..., allow_pickle=False)``: loading a checkpoint never
    runs code.  The check is :meth:`Module.load_state_dict` with ``strict=True``.

    A PyTorch checkpoint of a module with the same layout loads by name, through its
    ``state_dict``::

        sd = torch_module.state_dict()
        module.load_state_dict({k: v.detach().cpu().numpy() for k, v in sd.items()})

    References
    ----------
    .. [1] NumPy Enhancement Proposal 1, "A Simple File Format for NumPy Arrays".

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import npsoftmax as nps
    >>> path = os.path.join(tempfile.mkdtemp(), "linear.npz")
    >>> nps.nn.save(nps.nn.Linear(3, 2, rng=0), path)
    >>> copy = nps.nn.load(nps.nn.Linear(3, 2, rng=1), path)
    >>> np.array_equal(copy.weight.data, nps.nn.Linear(3, 2, rng=0).weight.data)
    True
    """
    if not isinstance(module, Module):
        raise TypeError(f"load expects a Module to load into, got {type(module).__name__}.")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile) as err:  # empty, truncated, not .npz
        raise ValueError(f"load: {_shown(path)} is not a .npz checkpoint ({err}).") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"load: {_shown(path)} holds a single array, not a .npz checkpoint of named parameters."
        )
    with archive:
        state = {}
        for name in archive.files:
            try:
                state[name] = archive[name]
            except (ValueError, EOFError, zipfile.BadZipFile) as err:
                if _holds_objects(archive, name):  # reading it would unpickle
                    raise TypeError(
                        f"load: entry '{name}' of {_shown(path)} is not a numeric array (it holds "
                        f"pickled objects, which are never loaded)."
                    ) from None
                raise ValueError(
                    f"load: entry '{name}' of {_shown(path)} is damaged or truncated ({err})."
                ) from None
    module.load_state_dict(state, strict=True)
    return module


def _holds_objects(archive: np.lib.npyio.NpzFile, name: str) -> bool:
    """Whether the ``.npy`` header of entry ``name`` declares Python objects (False when even
    the header cannot be read)."""
    try:
        with archive.zip.open(name + ".npy") as entry:
            read_header = _HEADER_READERS.get(np.lib.format.read_magic(entry))
            if read_header is None:
                return False
            _, _, dtype = read_header(entry)
    except (ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return False
    return dtype.hasobject


_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _shown(path: PathOrFile) -> str:
    """The path as a message shows it: ``'/a/b.npz'``, not ``PosixPath('/a/b.npz')``."""
    return repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else repr(path)


def _open(path: PathOrFile, mode: str) -> Any:
    """A context manager for ``path``: opens a path, leaves a caller's file object open."""
    if hasattr(path, "write") or hasattr(path, "read"):
        return contextlib.nullcontext(path)
    return open(path, mode)  # closed by the caller's with-statement
