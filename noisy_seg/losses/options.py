"""Constraints on loss options, declared where a loss is registered: `register_loss(..., q=in_range(0, 1))`.

A constraint is a predicate plus the words that say what it accepts; `build_loss` turns a failed one into
"loss 'gce': q must be a number in (0, 1], got 1.5". Values reach them frozen (lists and tensors as tuples).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, NamedTuple


class Constraint(NamedTuple):
    accepts: Callable[[Any], bool]
    description: str  # completes "<option> must be ..."


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


non_negative = Constraint(lambda v: _is_finite_number(v) and v >= 0, "a finite number >= 0")
positive = Constraint(lambda v: _is_finite_number(v) and v > 0, "a finite number > 0")
boolean = Constraint(lambda v: isinstance(v, bool), "True or False")


def in_range(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> Constraint:
    """A finite number in [low, high]; `low_open` / `high_open` exclude that end."""

    def accepts(v):
        return _is_finite_number(v) and (low < v if low_open else low <= v) and (v < high if high_open else v <= high)

    return Constraint(accepts, f"a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}")


def integer(minimum: int) -> Constraint:
    return Constraint(lambda v: _is_int(v) and v >= minimum, f"an int >= {minimum}")


def one_of(*choices: Any) -> Constraint:
    return Constraint(
        lambda v: any(v == c and type(v) is type(c) for c in choices), "one of " + ", ".join(map(repr, choices))
    )


def optional(constraint: Constraint) -> Constraint:
    return Constraint(lambda v: v is None or constraint.accepts(v), f"None or {constraint.description}")


def either(*constraints: Constraint) -> Constraint:
    return Constraint(lambda v: any(c.accepts(v) for c in constraints), " or ".join(c.description for c in constraints))


def sequence_of(constraint: Constraint) -> Constraint:
    """A non-empty tuple (a list or tensor option is frozen to one) whose items all meet `constraint`."""
    return Constraint(
        lambda v: isinstance(v, tuple) and len(v) > 0 and all(map(constraint.accepts, v)),
        f"a non-empty list, each item {constraint.description}",
    )


# Checked for every registered loss that has these options.
REDUCTIONS = ("none", "mean", "sum")
reduction = one_of(*REDUCTIONS)
ignore_index = Constraint(lambda v: v is None or _is_int(v), "an int or None")
