"""Layers behind one protocol (base.py): ``Dense``, ``Dropout``, ``BatchNormalization``,
``Activation``, and ``Input`` to declare the features.

``deserialize(config)`` rebuilds a layer from its ``get_config()``; a user's own layer class
is found through ``custom_objects={"MyLayer": MyLayer}``, as in Keras.
"""

from __future__ import annotations

from typing import Any

from .activation import Activation
from .base import Chain, Input, Layer
from .batch_norm import BatchNormalization
from .dense import KERNEL_FORMS, Dense, DenseStack
from .dropout import Dropout
from .flatten import Flatten

__all__ = [
    "Layer",
    "Input",
    "Dense",
    "Dropout",
    "BatchNormalization",
    "Activation",
    "Flatten",
    "KERNEL_FORMS",
    "Chain",
    "chain",
    "deserialize",
]

_BUILTIN: dict[str, type[Layer]] = {
    cls.__name__: cls for cls in (Dense, Dropout, BatchNormalization, Activation, Flatten)
}


def chain(layers: list[Layer], spaces: list[Any], training: bool) -> Chain:
    """How ``layers`` run through their workspaces ``spaces``: as one compiled stack where they
    are all Dense layers it can take (``DenseStack``), else one after another."""
    return DenseStack.of(layers, spaces, training) or Chain(layers, spaces, training)


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Layer:
    """The layer ``config`` describes (nothing is allocated or drawn)."""
    if not isinstance(config, dict):
        raise ValueError(f"A layer config must be a dict, received {type(config).__name__}.")
    known = {**_BUILTIN, **(custom_objects or {})}
    name = config.get("class_name")
    cls = known.get(name) if isinstance(name, str) else None
    if cls is None or not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(
            f"Unknown layer class_name {name!r}: expected one of {', '.join(sorted(known))} "
            "(pass your own layer classes with custom_objects={'Name': cls})."
        )
    return cls.from_config(config)


# Keras layers outside xpnn's subset (dense MLPs): asking for one says so, never a silently
# different model. Other unknown names are plain AttributeErrors.
_OUTSIDE = frozenset(
    """Conv1D Conv2D Conv3D Conv1DTranspose Conv2DTranspose Conv3DTranspose DepthwiseConv1D
    DepthwiseConv2D SeparableConv1D SeparableConv2D MaxPooling1D MaxPooling2D MaxPooling3D
    AveragePooling1D AveragePooling2D AveragePooling3D GlobalAveragePooling1D
    GlobalAveragePooling2D GlobalMaxPooling1D GlobalMaxPooling2D LSTM GRU SimpleRNN
    Bidirectional ConvLSTM2D TimeDistributed Embedding MultiHeadAttention Attention
    LayerNormalization GroupNormalization UnitNormalization Reshape Permute RepeatVector
    Lambda Concatenate Add Multiply Average Maximum Minimum Subtract Dot ZeroPadding2D
    Cropping2D UpSampling2D GaussianNoise GaussianDropout AlphaDropout SpatialDropout1D
    SpatialDropout2D LeakyReLU PReLU ELU ReLU Softmax Rescaling Normalization
    TextVectorization StringLookup IntegerLookup CategoryEncoding Discretization Hashing
    RandomFlip RandomRotation RandomZoom RandomCrop Resizing EinsumDense Identity
    Masking""".split()
)


def __getattr__(name: str) -> Any:
    if name in _OUTSIDE:
        raise NotImplementedError(
            f"keras.layers.{name} is outside xpnn's subset: xpnn builds dense feed-forward "
            f"networks from {', '.join(sorted(_BUILTIN))} (and Input). Use Keras itself for "
            f"models that need {name}."
        )
    raise AttributeError(f"module 'xpnn.layers' has no attribute {name!r}")
