"""Apply noise to a whole COCO-format dataset at once; the core of tools/make_noisy_dataset.py.

Category ids map to contiguous indices by SORTED category id, as detectron2's load_coco_json
does, and back. Keys: image id -> ``image_key``; annotation -> its content (``content_keys``: class,
crowd flag, box), as the mapper keys it, whatever detectron2's loader kept of ids and order. Class noise, drops and spatial decisions
run vectorized over all annotations; geometry and instance crops are per annotation. For one
seed the result equals ``NoisePipeline.apply_to_annotations`` run image by image.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..utils.files import gc_paused, load_json, save_json_atomic
from .annotation_keys import content_keys
from .coco_records import annotation_arrays, check_images
from .geometry import bbox_format_of, segmentation_area, xyxy_boxes
from .instance_dependent import InstanceDependentNoise, instance_features
from .keyed_random import image_keys as to_image_keys
from .mask_noise import CLEAN, OP_NAMES, SKIPPED_NAMES
from .pipeline import NoisePipeline, noise_tag
from .registry import build_noise
from .transition import realized_transition_matrix

__all__ = [
    "NoiseReport",
    "apply_noise_to_coco",
    "category_index",
    "cityscapes_to_coco",
    "gc_paused",
    "load_json",
    "save_json_atomic",
]

# op codes: OP_NAMES indices, then op + _SKIPPED_OFFSET for an op that was skipped
_SKIPPED_OFFSET = len(OP_NAMES) - 1
_OP_LABELS = (*OP_NAMES, *SKIPPED_NAMES)
_TAGS = tuple(noise_tag(changed, op) for changed in (False, True) for op in _OP_LABELS)


@dataclass
class NoiseReport:
    """What the noise did to a dataset. Counts over noisable annotations (kept, not crowd)."""

    class_names: list[str]
    num_annotations: int
    num_crowd: int
    num_dropped: int
    num_noisable: int
    num_class_flipped: int
    transition_counts: np.ndarray  # int64 (K, K), clean x noisy, contiguous indices
    op_counts: dict[str, int] = field(default_factory=dict)

    @property
    def realized_class_rate(self) -> float:
        return self.num_class_flipped / self.num_noisable if self.num_noisable else 0.0

    def realized_transition_matrix(self) -> np.ndarray:
        """Row-normalized counts (K, K); rows of absent classes are zero."""
        totals = self.transition_counts.sum(axis=1, keepdims=True)
        return np.divide(self.transition_counts, totals, out=np.zeros(self.transition_counts.shape), where=totals > 0)

    def format(self, max_full_matrix: int = 20, top: int = 3) -> str:
        """Human-readable summary: rates, op counts, and the transition matrix with class names."""
        candidates = self.num_annotations - self.num_crowd
        drop_rate = self.num_dropped / candidates if candidates else 0.0
        lines = [
            f"annotations: {self.num_annotations} (crowd, never noised: {self.num_crowd}; "
            f"dropped: {self.num_dropped}, rate {drop_rate:.4f})",
            f"realized class-flip rate: {self.realized_class_rate:.4f} ({self.num_class_flipped}/{self.num_noisable})",
        ]
        spatial = {op: n for op, n in self.op_counts.items() if op != OP_NAMES[CLEAN] and n}
        if spatial:
            changed = sum(n for op, n in spatial.items() if op in OP_NAMES)
            rate = changed / self.num_noisable if self.num_noisable else 0.0
            lines.append(
                f"realized spatial rate: {rate:.4f} " + " ".join(f"{op}={n}" for op, n in sorted(spatial.items()))
            )
        if self.num_class_flipped:
            lines.append("realized transition matrix P(noisy | clean):")
            lines.extend(self._matrix_lines(max_full_matrix, top))
        return "\n".join(lines)

    def _matrix_lines(self, max_full_matrix: int, top: int) -> list[str]:
        matrix = self.realized_transition_matrix()
        counts = self.transition_counts.sum(axis=1)
        names = self.class_names
        width = max(len(n) for n in names)
        if len(names) <= max_full_matrix:
            column = max(6, max(len(n) for n in names))
            lines = [" " * width + " " + " ".join(n[:column].rjust(column) for n in names)]
            for i, name in enumerate(names):
                lines.append(name.ljust(width) + " " + " ".join(f"{v:{column}.3f}" for v in matrix[i]))
            return lines
        lines = []
        for i in np.flatnonzero(counts).tolist():  # large K: each class's stay rate and top flips
            row = matrix[i].copy()
            stay = row[i]
            row[i] = 0.0
            flips = [f"{names[j]} {row[j]:.3f}" for j in np.argsort(-row, kind="stable")[:top].tolist() if row[j] > 0]
            lines.append(
                f"{names[i].ljust(width)} n={counts[i]:<7d} stay {stay:.3f}"
                + (" -> " + ", ".join(flips) if flips else "")
            )
        return lines

    def to_dict(self) -> dict:
        """JSON-serializable form."""
        return {
            "class_names": list(self.class_names),
            "num_annotations": self.num_annotations,
            "num_crowd": self.num_crowd,
            "num_dropped": self.num_dropped,
            "num_noisable": self.num_noisable,
            "num_class_flipped": self.num_class_flipped,
            "realized_class_rate": self.realized_class_rate,
            "transition_counts": self.transition_counts.tolist(),
            "op_counts": dict(self.op_counts),
        }


def category_index(categories: Sequence[Mapping]) -> tuple[np.ndarray, list[str]]:
    """Sorted category ids (K,) int64 (contiguous index = position) and their names."""
    if not isinstance(categories, Sequence) or not categories:
        raise ValueError("dataset 'categories' must be a non-empty list of {'id', 'name'} dicts")
    by_id = {}
    for category in categories:
        if not isinstance(category, Mapping) or "id" not in category:
            raise ValueError(f"every category needs an 'id', got {category!r}")
        if isinstance(category["id"], bool) or not isinstance(category["id"], int) or category["id"] >= 1 << 63:
            raise ValueError(f"category {category.get('name', '?')!r}: 'id' must be an int, got {category['id']!r}")
        if category["id"] in by_id:
            raise ValueError(f"category id {category['id']} appears twice in 'categories'")
        by_id[category["id"]] = str(category.get("name", category["id"]))
    ids = sorted(by_id)
    return np.asarray(ids, dtype=np.int64), [by_id[i] for i in ids]


def _check_dataset(dataset) -> None:
    if not isinstance(dataset, Mapping):
        raise ValueError(f"dataset must be a COCO dict, got {type(dataset).__name__}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(dataset.get(key), list):
            raise ValueError(f"dataset has no '{key}' list; is this a COCO instances json?")


def apply_noise_to_coco(dataset: Mapping, noise, *, images_root=None, progress: bool = False):
    """Noisy copy of a COCO dict -> (new dataset dict, NoiseReport).

    noise: a NoisePipeline or a registry spec (dict or list of dicts, see registry.py).
    images_root: folder that image ``file_name``s are relative to (instance-dependent noise).
    The output keeps images, categories and annotation ids; each kept annotation gets the
    noisy ``category_id``, ``clean_category_id`` and a ``noise`` tag; corrupted geometry gets a
    recomputed ``bbox`` and ``area``. Dropped annotations are left out. The input is not modified.
    """
    _check_dataset(dataset)
    images, annotations = dataset["images"], dataset["annotations"]
    sorted_ids, class_names = category_index(dataset["categories"])
    pipeline = noise if isinstance(noise, NoisePipeline) else build_noise(noise, len(class_names))
    if pipeline.num_classes not in (None, len(class_names)):
        raise ValueError(
            f"the noise was built for {pipeline.num_classes} classes but the dataset has {len(class_names)}"
        )

    n = len(annotations)
    check_images(images)
    positions, labels, crowd, boxes = annotation_arrays(annotations, images, sorted_ids)
    img_keys = to_image_keys([image["id"] for image in images])[positions] if n else np.zeros(0, np.int64)
    ann_keys = content_keys(labels, crowd, boxes, groups=positions)

    keep = np.ones(n, dtype=bool)
    if pipeline.drop_noise is not None:
        keep = pipeline.drop_noise.keep_mask(img_keys, ann_keys) | crowd
    noisable = np.flatnonzero(keep & ~crowd)
    noisy = labels.copy()
    if isinstance(pipeline.class_noise, InstanceDependentNoise):
        noisy[noisable] = _instance_dependent(
            pipeline.class_noise, dataset, noisable, positions, labels, img_keys, ann_keys, images_root, progress
        )
    elif pipeline.class_noise is not None and noisable.size:
        noisy[noisable] = pipeline.class_noise.apply(labels[noisable], img_keys[noisable], ann_keys[noisable])

    ops = np.zeros(n, dtype=np.int8)
    geometry = {}
    if pipeline.spatial_noise is not None and noisable.size:
        ops[noisable] = pipeline.spatial_noise.choose_ops(img_keys[noisable], ann_keys[noisable])
        geometry = _spatial(pipeline.spatial_noise, annotations, images, positions, img_keys, ann_keys, ops, progress)

    changed = noisy != labels
    tags = [_TAGS[code] for code in (changed * len(_OP_LABELS) + ops).tolist()]
    dataset_ids = sorted_ids[noisy].tolist()
    new_annotations = []
    for index in np.flatnonzero(keep).tolist():
        ann = dict(annotations[index])
        ann["clean_category_id"] = ann["category_id"]
        ann["category_id"] = dataset_ids[index]
        ann["noise"] = tags[index]
        if index in geometry:
            ann.update(geometry[index])
        new_annotations.append(ann)

    op_codes, op_totals = np.unique(ops[noisable], return_counts=True)
    report = NoiseReport(
        class_names=class_names,
        num_annotations=n,
        num_crowd=int(crowd.sum()),
        num_dropped=int(n - keep.sum()),
        num_noisable=int(noisable.size),
        num_class_flipped=int(changed[noisable].sum()),
        transition_counts=realized_transition_matrix(
            labels[noisable], noisy[noisable], len(class_names), normalize=False
        ),
        op_counts={_OP_LABELS[c]: int(t) for c, t in zip(op_codes.tolist(), op_totals.tolist())},
    )
    return {**dataset, "annotations": new_annotations}, report


def _progress(iterable, enabled: bool, total: int, description: str, unit: str):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=description, unit=unit)


def _spatial(spatial, annotations, images, positions, img_keys, ann_keys, ops, progress) -> dict[int, dict]:
    """Corrupt the geometry of annotations whose op is not clean; marks skipped erosions in ``ops``."""
    corrupted = np.flatnonzero(ops != CLEAN).tolist()
    geometry = {}
    for index in _progress(corrupted, progress, len(corrupted), "spatial noise", "ann"):
        ann = annotations[index]
        image = images[positions[index]]
        image_hw = (int(image["height"]), int(image["width"]))
        name = f"annotation id {ann.get('id', index)!r} (image id {image['id']!r})"
        if "segmentation" not in ann:
            raise ValueError(f"{name} has no 'segmentation' for spatial noise")
        try:
            segmentation, bbox, op_name = spatial.corrupt(
                ann["segmentation"], ann.get("bbox"), image_hw, img_keys[index], ann_keys[index], int(ops[index])
            )
        except (ValueError, TypeError, KeyError) as err:
            raise ValueError(f"{name}: 'segmentation' cannot be read ({err})") from None
        if op_name in SKIPPED_NAMES:
            ops[index] += _SKIPPED_OFFSET
            continue
        geometry[index] = {
            "segmentation": segmentation,
            "bbox": bbox,
            "area": segmentation_area(segmentation, image_hw),
        }
    return geometry


def _instance_dependent(
    noise, dataset, noisable, positions, labels, img_keys, ann_keys, images_root, progress
) -> np.ndarray:
    """IDN image by image: crops need the pixels, and one image is decoded once."""
    if images_root is None:
        raise ValueError("instance-dependent noise needs images_root (the folder of the images) to crop instances")
    images, annotations = dataset["images"], dataset["annotations"]
    result = np.empty(noisable.size, dtype=np.int64)
    order = np.argsort(positions[noisable], kind="stable")
    grouped = positions[noisable][order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]]) if order.size else np.zeros(0, dtype=np.int64)
    ends = np.r_[starts[1:], order.size].astype(np.int64)
    for start, end in _progress(
        list(zip(starts.tolist(), ends.tolist())), progress, len(starts), "instance-dependent noise", "img"
    ):
        members = order[start:end]
        indices = noisable[members]
        image_info = images[int(grouped[start])]
        path = os.path.join(os.fspath(images_root), image_info["file_name"])
        pixels = cv2.imread(path, cv2.IMREAD_COLOR)
        if pixels is None:
            raise ValueError(f"cannot read image {path!r}; check --images-root")
        boxes = xyxy_boxes([annotations[i]["bbox"] for i in indices.tolist()], ["xywh"] * indices.size)
        features = instance_features(pixels, boxes, noise.feature_size)
        result[members] = noise.apply(labels[indices], img_keys[indices], ann_keys[indices], features)
    return result


def cityscapes_to_coco(dataset_dicts: Sequence[Mapping], class_names: Sequence[str], image_root=None) -> dict:
    """detectron2 Cityscapes instance dicts -> COCO dict (category id = contiguous + 1, bbox XYWH).

    Annotations get no "id" here (noise is keyed by content, ids play no part); give ids after noising. ``file_name`` is made relative to
    ``image_root`` when given. Segmentations must be polygons (to_polygons=True).
    """
    images, annotations = [], []
    for record in dataset_dicts:
        height, width = int(record["height"]), int(record["width"])
        file_name = record["file_name"]
        if image_root is not None:
            file_name = os.path.relpath(file_name, image_root)
        images.append({"id": record["image_id"], "file_name": file_name, "height": height, "width": width})
        for ann in record.get("annotations", []):
            bbox = [float(v) for v in ann["bbox"]]
            if bbox_format_of(ann) == "xyxy":
                bbox = [bbox[0], bbox[1], bbox[2] - bbox[0], bbox[3] - bbox[1]]
            annotations.append(
                {
                    "image_id": record["image_id"],
                    "category_id": int(ann["category_id"]) + 1,
                    "bbox": bbox,
                    "segmentation": ann["segmentation"],
                    "area": segmentation_area(ann["segmentation"], (height, width)),
                    "iscrowd": int(bool(ann.get("iscrowd", 0))),
                }
            )
    categories = [{"id": index + 1, "name": name} for index, name in enumerate(class_names)]
    return {"images": images, "annotations": annotations, "categories": categories}
