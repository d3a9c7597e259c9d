"""The semantic heads' loss: registered dense losses chosen by name (or a weighted sum), stage-wise in one run.

    loss="gce", loss_kwargs={"q": 0.7}
    loss="ce + 0.5 * dice"                               # a weighted sum; loss_kwargs per term:
    loss={"ce": 1.0, "lovasz": 0.5}, loss_kwargs={"lovasz": {"per_image": True}}
    loss="combination", loss_kwargs={"bg_index": [0]}    # CE on background pixels, RCE on foreground ones

Every term is built once, at construction, by the loss registry, with the head's ignore label (and its class
count for losses that need one); plain CE runs before `loss_switch_iter`.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Dict, Mapping, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from detectron2.utils.events import get_event_storage

from ..losses import available_losses, build_loss, loss_spec, loss_spec_for
from ..utils.errors import did_you_mean

__all__ = ["SemSegLoss", "parse_loss_terms"]

LossSetting = Union[str, Mapping[str, float]]
_PLUS = re.compile(r"(?<![0-9.][eE])\+")  # a '+' between terms, not the sign of an exponent (2e+1)
_TERM = re.compile(r"^\s*(?:(?P<weight>[^*\s]+)\s*\*\s*)?(?P<name>[A-Za-z_]\w*)\s*$")
_FLOAT32_MAX = float(torch.finfo(torch.float32).max)  # a weight times a float32 loss: beyond this it is inf


def parse_loss_terms(loss: LossSetting) -> Dict[str, float]:
    """ "sce", "ce + 0.5 * dice" or {"ce": 1.0, "dice": 0.5} -> {name: weight}. Strict, one ValueError line: a
    term that cannot be read, an unknown loss, a loss named twice (give it once, with the summed weight: its
    loss_kwargs are keyed by name), a weight that is not a finite number > 0 (a weight of 0 trains nothing)."""
    if isinstance(loss, Mapping):
        terms = {str(name): weight for name, weight in loss.items()}
    elif isinstance(loss, str):
        terms = _parsed(loss)
    else:
        raise ValueError(f"loss must be a loss name, 'a * name + b * name', or a dict {{name: weight}}; got {loss!r}")
    if not terms:
        raise ValueError(f"loss {loss!r} names no term; write e.g. 'ce'")
    for name, weight in terms.items():
        if name not in available_losses():
            raise ValueError(
                f"loss {loss!r}: unknown loss {name!r}.{did_you_mean(name.lower(), available_losses())} "
                f"Choose one of {', '.join(available_losses())}"
            )
        _check_weight(loss, name, weight)
    return {name: float(weight) for name, weight in terms.items()}


def _parsed(loss: str) -> Dict[str, float]:
    terms = {}
    for part in _PLUS.split(loss):
        match = _TERM.match(part)
        if match is None:
            raise ValueError(f"loss {loss!r}: cannot read the term {part.strip()!r}; write e.g. 'ce + 0.5 * dice'")
        name, written = match["name"], match["weight"]
        if name in terms:
            raise ValueError(
                f"loss {loss!r} names {name!r} twice; give each loss once, with its total weight (e.g. '2 * {name}')"
            )
        try:
            weight = 1.0 if written is None else float(written)
        except ValueError:
            raise ValueError(
                f"loss {loss!r}: cannot read the term {part.strip()!r}: its weight {written!r} is not a "
                f"number; write e.g. '0.5 * {name}'"
            ) from None
        if not math.isfinite(weight):  # nan, inf, or a number beyond a float (1e400)
            raise ValueError(f"loss {loss!r}: the weight {written} of {name!r} is not a finite number")
        terms[name] = weight
    return terms


def _check_weight(loss: LossSetting, name: str, weight) -> None:
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not math.isfinite(weight):
        raise ValueError(f"loss {loss!r}: the weight of {name!r} must be a finite number > 0, got {weight!r}")
    if weight <= 0:
        raise ValueError(
            f"loss {loss!r}: the weight of {name!r} must be > 0, got {weight!r}"
            f"{'; a term of weight 0 trains nothing: leave it out' if weight == 0 else ''}"
        )
    if weight > _FLOAT32_MAX:
        raise ValueError(
            f"loss {loss!r}: the weight {weight!r} of {name!r} overflows the float32 loss it "
            f"multiplies (at most {_FLOAT32_MAX:.3g})"
        )


def _current_iter() -> Optional[int]:
    try:
        return get_event_storage().iter
    except AssertionError:  # outside a trainer
        return None


class SemSegLoss(nn.Module):
    """loss(logits (N, C, H, W) at label resolution, targets (N, H, W)) -> scalar.

    Args:
        loss: a registered loss name, "a * name + b * name", or {name: weight}.
        loss_kwargs: options of the loss; for a sum, {name: options} per term.
        loss_switch_iter: plain CE (the stock head's loss) before this training iteration, `loss` from it on.
        ignore_value: the head's ignore label, given to every term that has an ignore_index.
        num_classes: given to terms that take num_classes (region-aware).
    """

    def __init__(
        self,
        loss: LossSetting = "ce",
        loss_kwargs: Optional[Mapping] = None,
        loss_switch_iter: int = 0,
        *,
        ignore_value: int,
        num_classes: int,
    ):
        super().__init__()
        if isinstance(loss_switch_iter, bool) or not isinstance(loss_switch_iter, int) or loss_switch_iter < 0:
            raise ValueError(f"loss_switch_iter must be an int >= 0, got {loss_switch_iter!r}")
        self.ignore_value = ignore_value
        self.loss_switch_iter = loss_switch_iter
        self.weights = parse_loss_terms(loss)
        self.is_stock_ce = self.weights == {"ce": 1.0}
        self.loss_name = " + ".join(name if w == 1 else f"{w:g} * {name}" for name, w in self.weights.items())
        kwargs = dict(loss_kwargs or {})
        several = len(self.weights) > 1
        if several and set(kwargs) - set(self.weights):
            raise ValueError(
                f"loss_kwargs of a sum of losses are per term ({sorted(self.weights)}); "
                f"got keys {sorted(set(kwargs) - set(self.weights))}"
            )
        self._needs_tags = {name: loss_spec(name).needs_image_tags for name in self.weights}
        self.terms = nn.ModuleDict(
            {
                name: self._build_term(name, dict(kwargs.get(name) or {}) if several else kwargs, num_classes)
                for name in self.weights
            }
        )

    def _build_term(self, name: str, options: dict, num_classes: int) -> nn.Module:
        spec = loss_spec_for(name, "dense", f"loss {name!r} is {{kind}}; a semantic head needs a dense loss")
        if "ignore_index" in spec.defaults:
            options.setdefault("ignore_index", self.ignore_value)
        if "num_classes" in spec.defaults:
            options.setdefault("num_classes", num_classes)
        if spec.needs_bg_index and "bg_index" not in options:
            raise ValueError(
                f"loss {name!r} needs loss_kwargs bg_index: the background class(es) of the dataset, "
                "whose pixels get CE (e.g. [0] for the toy data)"
            )
        for key in ("bg_index", "background_index"):  # class indices of the head's label space
            classes = options.get(key)
            classes = [classes] if isinstance(classes, int) else list(classes or [])
            unknown = [c for c in classes if isinstance(c, int) and not 0 <= c < num_classes]
            if unknown:
                raise ValueError(
                    f"loss {name!r}: {key} names class(es) {unknown} outside the head's {num_classes} "
                    f"classes [0, {num_classes})"
                )
        return build_loss(name, **options)

    def robust_loss_active(self) -> bool:
        it = _current_iter()
        return it is None or it >= self.loss_switch_iter

    def replaces_stock_loss(self) -> bool:
        """True when this step uses the configured loss rather than the stock head's CE."""
        return not self.is_stock_ce and self.robust_loss_active()

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, present: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """present: (N, C) bool image-level tags for losses that use them (class-aware CE); without them those
        losses take the classes in each image's targets."""
        if not self.replaces_stock_loss():
            return F.cross_entropy(logits, targets, reduction="mean", ignore_index=self.ignore_value)
        total = None
        for name, term in self.terms.items():
            extra = {"present": present} if present is not None and self._needs_tags[name] else {}
            value = self.weights[name] * term(logits, targets, **extra)
            total = value if total is None else total + value
        return total

    def extra_repr(self) -> str:
        return f"weights={self.weights}, loss_switch_iter={self.loss_switch_iter}"
