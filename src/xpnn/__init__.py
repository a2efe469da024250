"""xpnn: dense feed-forward neural networks on NumPy (CPU) or CuPy (GPU), chosen at run time.

``NN_BACKEND=cupy python train.py`` trains on the GPU with no change to the code, and a Keras 3
script that builds and trains a Sequential MLP runs with ``import xpnn as keras``: the
namespaces below mirror Keras's (``layers``, ``models``, ``utils``, ``optimizers``, ...).
"""

from . import (
    activations,
    callbacks,
    distributed,
    initializers,
    kernels,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    utils,
)
from .backend import (
    Backend,
    BackendError,
    get_backend,
    get_xp,
    set_backend,
    to_device,
    to_numpy,
    use_backend,
)
from .callbacks import Callback, EarlyStopping, History, LambdaCallback, TerminateOnNaN
from .gradcheck import gradcheck
from .layers import Dense, Input
from .model import Sequential, set_random_seed
from .models import Model
from .saving import load_model, save_model
from .testing.strict import transfer_counts

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BackendError",
    "Callback",
    "Dense",
    "EarlyStopping",
    "History",
    "Input",
    "LambdaCallback",
    "Model",
    "Sequential",
    "TerminateOnNaN",
    "activations",
    "callbacks",
    "distributed",
    "get_backend",
    "get_xp",
    "gradcheck",
    "initializers",
    "kernels",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
    "save_model",
    "set_backend",
    "set_random_seed",
    "to_device",
    "to_numpy",
    "transfer_counts",
    "use_backend",
    "utils",
]
