"""Matching a state dict to a Module's parameters: what ``load_state_dict`` checks first.

A tied Parameter (one object under several names, as ``dec.weight`` is ``emb.weight`` when a
decoder shares its embedding's matrix) is listed by ``state_dict`` under every name, as PyTorch
lists it.  On loading, any one of its names provides it, so a checkpoint that lists it once
still loads strictly; names that are all given must hold the same values.  Every value is
checked before any is written: a refused state leaves the module as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor


def match_state(
    paths: list[tuple[str, Tensor]], state_dict: Mapping[str, Any], strict: bool, owner: str
) -> tuple[list[tuple[Tensor, np.ndarray]], list[str], list[str]]:
    """Return ``(updates, missing, unexpected)``: ``(parameter, values)`` pairs to write, the
    names of parameters that no entry provides, and entries that name no parameter.

    ``paths`` is every ``(name, parameter)`` pair of the module, tied ones under each name.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"load_state_dict expects a mapping of names to arrays, got "
            f"{type(state_dict).__name__}."
        )
    aliases: dict[int, tuple[Tensor, list[str]]] = {}
    for name, p in paths:
        aliases.setdefault(id(p), (p, []))[1].append(name)
    known = {name for name, _ in paths}
    unexpected = [name for name in state_dict if name not in known]
    missing = [
        name
        for _, names in aliases.values()
        if not any(n in state_dict for n in names)
        for name in names
    ]
    if strict and (missing or unexpected):
        raise ValueError(
            f"load_state_dict: the state does not match {owner}: missing keys {missing}, "
            f"unexpected keys {unexpected}."
        )
    updates = []
    for p, names in aliases.values():
        given = [
            (name, _checked(name, state_dict[name], p)) for name in names if name in state_dict
        ]
        for name, arr in given[1:]:
            if not np.array_equal(arr, given[0][1], equal_nan=arr.dtype.kind == "f"):
                raise ValueError(
                    f"load_state_dict: entries '{given[0][0]}' and '{name}' name the same (tied) "
                    f"parameter but hold different values."
                )
        if given:
            updates.append((p, given[0][1]))
    return updates, missing, unexpected


def _checked(name: str, value: Any, p: Tensor) -> np.ndarray:
    """``value`` as a numeric array of ``p``'s shape, or an error naming the entry."""
    arr = np.asarray(value.data if isinstance(value, Tensor) else value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"load_state_dict: entry '{name}' must be a numeric array, got dtype {arr.dtype}."
        )
    if arr.shape != p.shape:
        raise ValueError(
            f"load_state_dict: entry '{name}' has shape {arr.shape}, but the parameter has "
            f"shape {p.shape}."
        )
    return arr
