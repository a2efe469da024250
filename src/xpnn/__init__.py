"""xpnn: dense feed-forward neural networks on NumPy (CPU) or CuPy (GPU), chosen at run time."""

from . import activations, kernels, losses, optimizers
from .backend import (
    Backend,
    BackendError,
    get_backend,
    get_xp,
    set_backend,
    to_device,
    to_numpy,
    transfer_counts,
    use_backend,
)

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BackendError",
    "activations",
    "get_backend",
    "get_xp",
    "kernels",
    "losses",
    "optimizers",
    "set_backend",
    "to_device",
    "to_numpy",
    "transfer_counts",
    "use_backend",
]
