"""Noise on semantic label maps, per connected component (8-connectivity, per class).

Each component of a class (ignore and background pixels excluded) is corrupted with
probability ``rate`` by one op drawn uniformly from ``ops``:
  relabel     -> a uniformly drawn other class (never background or its own class)
  background  -> ``background_label`` (only when the dataset has a background class)
  ignore      -> ``ignore_label``
  dilate      -> grows into its neighbours by a k x k kernel (ignore pixels stay ignore)
  erode       -> shrinks by a k x k kernel; freed pixels take the nearest outside label
A component's key is (class << 32) | (raster index of its first pixel), so its noise depends
only on the component itself, not on others. Ops are decided on the input map; relabel,
background and ignore are applied first, then dilate/erode in key order.

Short names (``<name><NN>[_s<seed>]``, NN = ``rate`` in percent): ``sem<NN>`` draws from relabel, ignore,
dilate and erode, ``semrelabel<NN>``, ``semignore<NN>``, ``semdilate<NN>`` and ``semerode<NN>`` use that one op
(``semdilate30_s1``: 30% of the components grow by the 5 x 5 kernel, seed 1). ``sembg<NN>`` relabels to the
background: it needs the dataset's ``background_label``, which a name cannot carry; `NoisySemSegDatasetMapper`
fills it in from its own ``background_label`` (the offline tool from ``--background-label``), and without one
building it is an error. A dict spec can say everything:
``{"type": "semantic", "rate": 0.3, "ops": ["background"], "background_label": 0}``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage

from ..utils.components import class_components
from ._validation import check_model_fields
from .keyed_random import image_key as to_image_key, keyed_uniform
from .registry import register_noise

__all__ = ["SEMANTIC_OPS", "ComponentPlan", "SemanticNoise"]

SEMANTIC_OPS = ("relabel", "background", "ignore", "dilate", "erode")
APPLY_STREAM = "semantic_apply"
OP_STREAM = "semantic_op"
TARGET_STREAM = "semantic_target"


@dataclass(frozen=True)
class ComponentPlan:
    """What happens to each component of one label map; all arrays (m,)."""

    class_ids: np.ndarray  # int64, class of the component
    keys: np.ndarray  # int64, (class << 32) | first-pixel raster index
    boxes: np.ndarray  # int64 (m, 4), x, y, w, h of the component
    ops: np.ndarray  # object, op name or None when untouched
    targets: np.ndarray  # int64, new label for relabel/background/ignore (-1 otherwise)


@dataclass(frozen=True, eq=False)
class SemanticNoise:
    """Component-level noise on (H, W) integer label maps with classes 0..K-1 and ``ignore_label``."""

    rate: float
    num_classes: int
    seed: int = 0
    ignore_label: int = 255
    background_label: int | None = None
    kernel: int = 5
    ops: tuple[str, ...] | None = field(default=None)

    def __post_init__(self):
        check_model_fields(self)
        if isinstance(self.ignore_label, bool) or not isinstance(self.ignore_label, numbers.Integral):
            raise ValueError(f"ignore_label must be an int, got {self.ignore_label!r}")
        if 0 <= self.ignore_label < self.num_classes:
            raise ValueError(f"ignore_label {self.ignore_label} collides with a class in [0, {self.num_classes})")
        if self.background_label is not None and not 0 <= self.background_label < self.num_classes:
            raise ValueError(
                f"background_label must be a class in [0, {self.num_classes}) or None, got {self.background_label}"
            )
        if isinstance(self.kernel, bool) or not isinstance(self.kernel, numbers.Integral) or self.kernel < 1:
            raise ValueError(f"kernel must be a positive int, got {self.kernel!r}")
        ops = self.ops
        if ops is None:
            ops = tuple(op for op in SEMANTIC_OPS if op != "background" or self.background_label is not None)
        ops = tuple(ops)
        unknown = [op for op in ops if op not in SEMANTIC_OPS]
        if unknown or not ops:
            raise ValueError(f"ops must be a non-empty subset of {SEMANTIC_OPS}, got {ops!r}")
        if "background" in ops and self.background_label is None:
            raise ValueError("op 'background' needs background_label; set it or leave 'background' out of ops")
        object.__setattr__(self, "ops", ops)

    def _check_map(self, label_map) -> np.ndarray:
        label_map = np.asarray(label_map)
        if label_map.ndim != 2 or label_map.dtype.kind not in "iu":
            raise ValueError(
                f"label_map must be an (H, W) integer array, got shape {label_map.shape} dtype {label_map.dtype}"
            )
        values = np.unique(label_map)
        bad = values[(values != self.ignore_label) & ((values < 0) | (values >= self.num_classes))]
        if bad.size:
            raise ValueError(
                f"label_map contains {int(bad[0])}, neither a class in [0, {self.num_classes}) "
                f"nor ignore {self.ignore_label}"
            )
        return label_map

    def plan(self, label_map, image_key) -> tuple[ComponentPlan, np.ndarray]:
        """Components of the map and their ops -> (ComponentPlan, component label image int32 (H, W))."""
        label_map = self._check_map(label_map)
        key = to_image_key(image_key)
        width = label_map.shape[1]
        eligible = [c for c in np.unique(label_map).tolist() if c not in (self.ignore_label, self.background_label)]
        found = class_components(label_map, eligible)
        components, class_ids, boxes = found.labels, found.classes, found.boxes  # components: 0 = none eligible
        keys = []
        for index, (cls, (x, y, w, _)) in enumerate(zip(class_ids.tolist(), boxes.tolist()), start=1):
            first_x = x + int(np.argmax(components[y, x : x + w] == index))  # per component, never per pixel
            keys.append((cls << 32) | (y * width + first_x))
        keys = np.asarray(keys, dtype=np.int64)
        ops = np.full(keys.size, None, dtype=object)
        targets = np.full(keys.size, -1, dtype=np.int64)
        if keys.size:
            chosen = keyed_uniform(self.seed, key, keys, APPLY_STREAM) < self.rate
            op_index = np.minimum(
                (keyed_uniform(self.seed, key, keys, OP_STREAM) * len(self.ops)).astype(int), len(self.ops) - 1
            )
            ops[chosen] = np.asarray(self.ops, dtype=object)[op_index[chosen]]
            targets = self._targets(ops, class_ids, key, keys)
            ops[(ops == "relabel") & (targets < 0)] = None  # no other class to become
        return ComponentPlan(class_ids, keys, boxes, ops, targets), components

    def _targets(self, ops, class_ids, key, keys) -> np.ndarray:
        targets = np.full(keys.size, -1, dtype=np.int64)
        targets[ops == "ignore"] = self.ignore_label
        if self.background_label is not None:
            targets[ops == "background"] = self.background_label
        relabel = np.flatnonzero(ops == "relabel")
        if relabel.size:
            excluded = {self.background_label} if self.background_label is not None else set()
            candidates = np.asarray([c for c in range(self.num_classes) if c not in excluded])
            own = class_ids[relabel]
            others = candidates.size - 1  # every component's own class is among the candidates
            if others > 0:
                draw = (keyed_uniform(self.seed, key, keys[relabel], TARGET_STREAM) * others).astype(np.int64)
                draw = np.minimum(draw, others - 1)
                own_position = np.searchsorted(candidates, own)
                targets[relabel] = candidates[draw + (draw >= own_position)]  # skip the own class
        return targets

    def apply(self, label_map, image_key) -> np.ndarray:
        """Noisy copy of ``label_map`` (H, W), same dtype; ``image_key`` is the image id (int or str)."""
        return self.apply_with_plan(label_map, image_key)[0]

    def apply_with_plan(self, label_map, image_key) -> tuple[np.ndarray, ComponentPlan]:
        """(the noisy copy `apply` returns, the ComponentPlan it followed): which components changed and how, for
        the offline tool's manifest."""
        plan, components = self.plan(label_map, image_key)
        label_map = np.asarray(label_map)
        noisy = label_map.copy()
        if plan.keys.size == 0:
            return noisy, plan
        lookup = np.full(plan.keys.size + 1, -1, dtype=np.int64)
        lookup[1:] = plan.targets
        new_labels = lookup[components]
        replaced = new_labels >= 0
        noisy[replaced] = new_labels[replaced].astype(noisy.dtype)

        structuring = np.ones((self.kernel, self.kernel), dtype=np.uint8)
        margin = self.kernel // 2 + 1
        height, width = label_map.shape
        for index in np.flatnonzero((plan.ops == "dilate") | (plan.ops == "erode")).tolist():
            x, y, w, h = plan.boxes[index].tolist()
            x0, y0 = max(0, x - margin), max(0, y - margin)
            x1, y1 = min(width, x + w + margin), min(height, y + h + margin)
            crop = components[y0:y1, x0:x1] == index + 1
            original = label_map[y0:y1, x0:x1]
            target = noisy[y0:y1, x0:x1]  # a view: writes land in ``noisy``
            if plan.ops[index] == "dilate":
                grown = cv2.dilate(crop.astype(np.uint8), structuring).astype(bool) & ~crop
                target[grown & (original != self.ignore_label)] = plan.class_ids[index]
            else:
                freed = crop & ~cv2.erode(crop.astype(np.uint8), structuring).astype(bool)
                if freed.any():
                    # nearest pixel outside the component supplies the freed pixel's label
                    nearest = ndimage.distance_transform_edt(crop, return_distances=False, return_indices=True)
                    target[freed] = original[nearest[0][freed], nearest[1][freed]]
        return noisy, plan


register_noise(
    "semantic",
    "semantic_noise",
    SemanticNoise,
    short={
        "sem": {},
        "semrelabel": {"ops": ("relabel",)},
        "semignore": {"ops": ("ignore",)},
        "semdilate": {"ops": ("dilate",)},
        "semerode": {"ops": ("erode",)},
        "sembg": {"ops": ("background",)},
    },
)
