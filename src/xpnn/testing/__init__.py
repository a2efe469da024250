"""Test machinery that users may reuse: :mod:`xpnn.testing.strict`, the stand-in backend whose
arrays refuse implicit conversion to NumPy as CuPy's do (``NN_BACKEND=strict``)."""

from . import strict

__all__ = ["strict"]
