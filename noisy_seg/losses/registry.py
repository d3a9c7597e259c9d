"""Name -> loss registry. A loss is a function `fn(logits, targets, [inputs...], *, options..., weight=None)`,
registered once below its definition with the constraints of its options:

    register_loss("gce", generalized_cross_entropy, kind=CLASSIFICATION_OR_DENSE, q=in_range(0, 1, low_open=True))

Its options and defaults are its keyword-only parameters (read from the signature, never restated); `reduction`
and `ignore_index` are checked for every loss that has them. `build_loss(name, **options)` validates the options
once and returns a `LossModule` that calls the function per step. A loss with state registers an nn.Module class
the same way (its `__init__` keyword-only parameters are the options).
"""

from __future__ import annotations

import inspect
from collections.abc import MutableSequence
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Type, Union

import torch
from torch import nn

from . import options as constraints
from .options import Constraint

# What logits a loss takes (`LossSpec.kind`).
CLASSIFICATION = "classification"  # (N, C) with targets (N,): the ROI box classifier
DENSE = "dense"  # (N, C, H, W) with targets (N, H, W): semantic segmentation
CLASSIFICATION_OR_DENSE = "classification_or_dense"
MASK = "mask"  # (R, M, M) per-RoI binary mask logits with float targets in [0, 1] (R, M, M): the ROI mask head
KINDS = (CLASSIFICATION, DENSE, CLASSIFICATION_OR_DENSE, MASK)

_GENERIC_CONSTRAINTS = {"reduction": constraints.reduction, "ignore_index": constraints.ignore_index}
REQUIRED = inspect.Parameter.empty  # the default of an option that has none


@dataclass(frozen=True)
class LossSpec:
    """A registered loss: the function (or nn.Module class), its options and what it can be used for.

    needs_bg_index: the loss has a `bg_index` option that must be the background logit (detectron2's box head
        fills in num_classes). needs_image_tags: the loss uses image-level tags, forward(..., present=(N, C) bool).
        needs_roi_sizes: the loss takes each RoI's size in image pixels, forward(..., roi_sizes=(R,) float) (a mask
        loss with widths in image pixels; the mask head passes them).
    """

    name: str
    loss: Union[Callable[..., torch.Tensor], Type[nn.Module]]
    kind: str
    defaults: Mapping[str, Any]  # option -> default, REQUIRED where it has none; signature order
    constraints: Mapping[str, Constraint]
    needs_bg_index: bool = False
    needs_image_tags: bool = False
    needs_roi_sizes: bool = False
    required_note: str = ""  # why the required options have no default, and values in use: ends the missing error

    @property
    def takes_classification_logits(self) -> bool:
        return self.kind in (CLASSIFICATION, CLASSIFICATION_OR_DENSE)

    @property
    def takes_dense_logits(self) -> bool:
        return self.kind in (DENSE, CLASSIFICATION_OR_DENSE)

    @property
    def takes_mask_logits(self) -> bool:
        return self.kind == MASK

    @property
    def logits_words(self) -> str:
        """What logits the loss takes, in words, for errors that refuse it."""
        return {CLASSIFICATION: "a classification loss", DENSE: "a dense loss", MASK: "a mask loss"}.get(
            self.kind, "a classification / dense loss"
        )

    def validated_options(self, kwargs: Mapping[str, Any]) -> Dict[str, Any]:
        """Defaults completed by `kwargs`, lists and tensors frozen to tuples; ValueError (one line) on an unknown,
        missing or unacceptable option."""
        unknown = [key for key in kwargs if key not in self.defaults]
        if unknown:
            raise ValueError(
                f"build_loss({self.name!r}): unexpected keyword argument {unknown[0]!r}; "
                f"accepted keyword arguments: {', '.join(self.defaults) or 'none'}"
            )
        options = {key: _frozen(kwargs.get(key, default)) for key, default in self.defaults.items()}
        missing = [key for key, value in options.items() if value is REQUIRED]
        if missing:
            required = [key for key, value in self.defaults.items() if value is REQUIRED]
            raise ValueError(
                f"build_loss({self.name!r}): missing a required argument: {missing[0]!r}; "
                f"{self.name!r} has no default for {', '.join(required)}"
                f"{': ' + self.required_note if self.required_note else ''}"
            )
        for key, constraint in self.constraints.items():
            if not constraint.accepts(options[key]):
                raise ValueError(
                    f"build_loss({self.name!r}): {key} must be {constraint.description}, "
                    f"got {kwargs.get(key, options[key])!r}"
                )
        return options


def _frozen(value: Any) -> Any:
    """Lists and tensors (focal alpha, lovasz classes) are held as tuples: a built loss then holds no mutable or
    device-bound option, and its repr stays on one line. Any mutable sequence counts as a list (a config's
    ListConfig too)."""
    if isinstance(value, torch.Tensor):
        return tuple(value.detach().cpu().reshape(-1).tolist())  # once, at build time
    return tuple(value) if isinstance(value, MutableSequence) else value


# A plain dict (not fvcore's Registry) so entries can have short names like "ce" that differ from the functions'.
LOSS_REGISTRY: Dict[str, LossSpec] = {}


def _keyword_options(loss: Union[Callable, Type[nn.Module]]) -> Dict[str, Any]:
    signature = inspect.signature(loss.__init__ if isinstance(loss, type) else loss)
    return {
        p.name: p.default
        for p in signature.parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "weight"
    }  # weight is per step


def register_loss(
    name: str,
    loss: Union[Callable[..., torch.Tensor], Type[nn.Module]],
    *,
    kind: str,
    needs_bg_index: bool = False,
    needs_image_tags: bool = False,
    needs_roi_sizes: bool = False,
    required_note: str = "",
    **option_constraints: Constraint,
) -> LossSpec:
    """Register `loss` (a function, or an nn.Module class for a loss with state) under `name`, with the
    constraints of its keyword-only options; `reduction` and `ignore_index` are constrained for every loss.
    required_note: for a loss with options that have no default, why, and what values are in use (it ends the
    error `build_loss` raises when one is missing)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_loss: name must be a non-empty string, got {name!r}")
    if name in LOSS_REGISTRY and LOSS_REGISTRY[name].loss is not loss:
        raise ValueError(
            f"register_loss: {name!r} is already registered to {LOSS_REGISTRY[name].loss.__name__}; pick another name"
        )
    if kind not in KINDS:
        raise ValueError(f"register_loss({name!r}): kind must be one of {KINDS}, got {kind!r}")
    defaults = _keyword_options(loss)
    stray = [key for key in option_constraints if key not in defaults]
    if stray or (needs_bg_index and "bg_index" not in defaults):
        raise ValueError(
            f"register_loss({name!r}): {loss.__name__} has no keyword-only option "
            f"{(stray or ['bg_index'])[0]!r}; its options: {', '.join(defaults) or 'none'}"
        )
    declared = {**_GENERIC_CONSTRAINTS, **option_constraints}
    spec = LossSpec(
        name,
        loss,
        kind,
        defaults,
        {key: declared[key] for key in defaults if key in declared},
        needs_bg_index,
        needs_image_tags,
        needs_roi_sizes,
        required_note,
    )
    for key, default in defaults.items():  # a default its own constraint rejects is a registration bug
        if default is not REQUIRED and key in spec.constraints and not spec.constraints[key].accepts(default):
            raise ValueError(
                f"register_loss({name!r}): default {key}={default!r} is not {spec.constraints[key].description}"
            )
    LOSS_REGISTRY[name] = spec
    return spec


def available_losses() -> List[str]:
    """Sorted registered names."""
    return sorted(LOSS_REGISTRY)


def loss_spec(name: str) -> LossSpec:
    """The registration of `name`: its function, options, kind and needs."""
    if name not in LOSS_REGISTRY:
        raise ValueError(f"build_loss: unknown loss {name!r}; available: {', '.join(available_losses())}")
    return LOSS_REGISTRY[name]


def loss_spec_for(name: str, takes: str, refusal: str) -> LossSpec:
    """The registration of `name` if it takes the logits `takes` names ("classification", "dense" or "mask": the
    LossSpec.takes_<takes>_logits capability a head needs); one ValueError otherwise, `refusal` ("cls_loss='x'; the box
    classifier needs a classification loss", with {kind} where the loss's own kind goes) followed by the losses that
    fit."""
    spec = loss_spec(name)
    attribute = f"takes_{takes}_logits"
    if not getattr(spec, attribute):
        fitting = [n for n in available_losses() if getattr(loss_spec(n), attribute)]
        raise ValueError(f"{refusal.format(kind=spec.logits_words)}: choose one of {', '.join(fitting)}")
    return spec


def build_loss(name: str, **kwargs: Any) -> nn.Module:
    """The loss registered as `name` with options `kwargs`, called as `loss(logits, targets, weight=None)`.
    Options are validated here, once: bad names or options raise ValueError now, not at the first step."""
    spec = loss_spec(name)
    options = spec.validated_options(kwargs)
    if isinstance(spec.loss, type):
        return spec.loss(**options)
    return LossModule(spec, options)


class LossModule(nn.Module):
    """A registered loss function with its options fixed: forward(logits, targets, weight=None, **inputs) calls
    `function(logits, targets, **inputs, **options, weight=weight)`. `inputs` are per-step tensors such as
    class-aware CE's image tags `present`."""

    def __init__(self, spec: LossSpec, options: Dict[str, Any]):
        super().__init__()
        self.name = spec.name
        self.loss_fn = spec.loss
        self.options = options
        # Dice and Lovasz are not sums over pixels: their functions take no per-pixel weight.
        self._takes_weight = "weight" in inspect.signature(spec.loss).parameters

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, weight: Optional[torch.Tensor] = None, **inputs: torch.Tensor
    ) -> torch.Tensor:
        if weight is None:
            return self.loss_fn(logits, targets, **inputs, **self.options)
        if not self._takes_weight:
            raise ValueError(
                f"loss {self.name!r}: per-pixel weight is not supported ({self.loss_fn.__name__} is "
                f"not a sum over pixels); pass weight=None"
            )
        return self.loss_fn(logits, targets, **inputs, **self.options, weight=weight)

    def extra_repr(self) -> str:
        return ", ".join([repr(self.name)] + [f"{key}={value!r}" for key, value in self.options.items()])
