"""Objects rebuilt from their configs, the way Keras writes them: ``serialize`` gives
``{"class_name": ..., "config": ...}``; ``deserialize`` and ``construct`` rebuild, refusing
unknown classes and unknown arguments with a message that names them."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["Configured", "serialize", "deserialize", "construct"]


class Configured:
    """Equal, hashed and shown by its ``get_config()``; rebuilt by ``cls(**config)``."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, _frozen(self.get_config())))


def _frozen(value: Any) -> Any:
    # Equal configs must hash equal, and a config may hold dicts or lists: hash values that are
    # hashable (1 == 1.0 and 0.0 == -0.0 hash alike, unlike their reprs), recurse into
    # containers, and let anything else hash as its container only.
    if isinstance(value, dict):
        return frozenset((k, _frozen(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return None
    return value


def serialize(obj: Any) -> dict[str, Any]:
    """``{"class_name": ..., "config": obj.get_config()}``, as Keras writes nested objects."""
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


def deserialize(config: Any, known: dict[str, type], base: type, kind: str) -> Any:
    """The ``base`` subclass instance a ``serialize`` dict describes; ``known`` maps class
    names to the accepted classes; ``kind`` names the concept in messages."""
    name = config.get("class_name") if isinstance(config, dict) else None
    cls = known.get(name) if isinstance(name, str) else None
    if cls is None or not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(
            f"Unknown {kind} config {config!r}: expected a dict with class_name one of "
            f"{', '.join(sorted(known))} and its config."
        )
    inner = config.get("config", {})
    if not isinstance(inner, dict):
        raise ValueError(f"A {kind}'s config must be a dict, received {inner!r}.")
    return cls.from_config(inner)


def construct(cls: type, arguments: dict[str, Any], config: Any, kind: str) -> Any:
    """``cls.from_config(arguments)``, after checking every argument is one ``cls`` takes."""
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    if unknown := sorted(set(arguments) - accepted):
        raise ValueError(
            f"Unknown {kind} in config: {cls.__name__} takes {sorted(accepted)}, received the "
            f"unknown keys {unknown}."
        )
    try:
        return cls.from_config(arguments)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Invalid {kind} config {config!r}: {exc}") from exc
