"""Modules: layers and models on the autograd, in PyTorch's shape (``npsoftmax.nn``).

* ``module.py``: :class:`Module` (parameters found by walking attributes) and :class:`Parameter`;
* ``linear.py``: :class:`Linear` (PyTorch's layout and default initialisation);
* ``containers.py``: :class:`Sequential`, :class:`ModuleList`;
* ``activations.py``, ``sparse.py``, ``stochastic.py``: module wrappers of the functional
  family (:class:`Softmax`, :class:`Sparsemax`, :class:`GumbelSoftmax`, ...);
* ``serialization.py``: :func:`save` / :func:`load` of ``.npz`` checkpoints (no pickle);
* ``mixture.py``: :class:`MixtureOfSoftmaxes` (Yang et al. 2018);
* ``adaptive.py``: :class:`AdaptiveLogSoftmaxWithLoss` (Grave et al. 2017).
"""

from .activations import LogSoftmax, Softmax, Softmax1, Softmin, TempSoftmax
from .adaptive import AdaptiveLogSoftmaxWithLoss
from .containers import ModuleList, Sequential
from .linear import Linear
from .mixture import MixtureOfSoftmaxes
from .module import IncompatibleKeys, Module, Parameter
from .serialization import load, save
from .sparse import Entmax15, EntmaxBisect, Sparsemax
from .stochastic import GumbelSoftmax

__all__ = [
    "AdaptiveLogSoftmaxWithLoss",
    "Entmax15",
    "EntmaxBisect",
    "GumbelSoftmax",
    "IncompatibleKeys",
    "Linear",
    "LogSoftmax",
    "MixtureOfSoftmaxes",
    "Module",
    "ModuleList",
    "Parameter",
    "Sequential",
    "Softmax",
    "Softmax1",
    "Softmin",
    "Sparsemax",
    "TempSoftmax",
    "load",
    "save",
]
