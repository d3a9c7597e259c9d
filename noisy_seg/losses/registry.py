"""Name -> loss module registry. `build_loss(name, **kwargs)` returns a callable
`(logits, targets, weight=None) -> loss`; bad names or kwargs fail here, at build time."""
from __future__ import annotations

import inspect
from typing import Callable, Dict, List, Type

from torch import nn

# A plain dict (not fvcore's Registry) so entries can have short names like "ce" that differ from the class names.
LOSS_REGISTRY: Dict[str, Type[nn.Module]] = {}


def register_loss(name: str) -> Callable[[Type[nn.Module]], Type[nn.Module]]:
    """Class decorator: register an nn.Module loss under `name`."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_loss: name must be a non-empty string, got {name!r}")

    def decorator(cls: Type[nn.Module]) -> Type[nn.Module]:
        if name in LOSS_REGISTRY and LOSS_REGISTRY[name] is not cls:
            raise ValueError(f"register_loss: {name!r} is already registered to {LOSS_REGISTRY[name].__name__}; "
                             f"pick another name")
        LOSS_REGISTRY[name] = cls
        return cls

    return decorator


def available_losses() -> List[str]:
    """Sorted registered names."""
    return sorted(LOSS_REGISTRY)


def build_loss(name: str, **kwargs) -> nn.Module:
    """Instantiate the loss registered as `name` with keyword arguments `kwargs`."""
    if name not in LOSS_REGISTRY:
        raise ValueError(f"build_loss: unknown loss {name!r}; available: {', '.join(available_losses())}")
    cls = LOSS_REGISTRY[name]
    signature = inspect.signature(cls.__init__)
    try:
        signature.bind(None, **kwargs)
    except TypeError as err:
        accepted = [p for p in signature.parameters if p != "self"]
        raise ValueError(f"build_loss({name!r}): {err}; accepted keyword arguments: {', '.join(accepted)}") from None
    return cls(**kwargs)
