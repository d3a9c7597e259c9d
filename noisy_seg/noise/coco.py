"""Noise on a whole COCO-format dataset: the offline tool's (tools/make_noisy_dataset.py) form of the one
algorithm, ``NoisePipeline.decide``.

Category ids map to contiguous indices by SORTED category id, as detectron2's load_coco_json does, and back.
Keys: image id -> ``image_key``; annotation -> its content (``content_keys``: class, crowd flag, box), as the
mapper keys it, whatever detectron2's loader kept of ids and order. The decisions run on all annotations at
once (instance-dependent noise: one image at a time, as its crops need the pixels); geometry is per
annotation. For one seed the result equals ``NoisePipeline.apply_to_annotations`` run image by image.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from .annotation_keys import content_keys
from .coco_records import annotation_arrays, check_images, int_problem
from .geometry import segmentation_area, xyxy_boxes
from .instance_dependent import instance_features
from .keyed_random import image_keys as to_image_keys
from .mask_noise import CLEAN
from .pipeline import OP_LABELS, NoiseDecisions, NoisePipeline
from .registry import build_noise
from .report import NoiseReport
from .transition import realized_transition_matrix

__all__ = ["apply_noise_to_coco", "category_index"]


def category_index(categories: Sequence[Mapping]) -> tuple[np.ndarray, list[str]]:
    """Sorted category ids (K,) int64 (contiguous index = position) and their names."""
    if not isinstance(categories, Sequence) or not categories:
        raise ValueError("dataset 'categories' must be a non-empty list of {'id', 'name'} dicts")
    by_id = {}
    for category in categories:
        if not isinstance(category, Mapping) or "id" not in category:
            raise ValueError(f"every category needs an 'id', got {category!r}")
        problem = int_problem(category["id"])
        if problem:
            raise ValueError(f"category {category.get('name', '?')!r}: 'id' {problem}")
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

    noise: a NoisePipeline, a spec (dict or list of dicts, see registry.py) or a short name such as "sym40".
    images_root: folder that image ``file_name``s are relative to (instance-dependent noise).
    The output keeps images, categories and annotation ids; each kept annotation gets the noisy
    ``category_id``, ``clean_category_id`` and a ``noise`` tag; corrupted geometry gets a recomputed ``bbox``
    and ``area``. Dropped annotations are left out. The input is not modified.
    """
    _check_dataset(dataset)
    images, annotations = dataset["images"], dataset["annotations"]
    sorted_ids, class_names = category_index(dataset["categories"])
    pipeline = noise if isinstance(noise, NoisePipeline) else build_noise(noise, len(class_names))
    if pipeline.num_classes not in (None, len(class_names)):
        raise ValueError(
            f"the noise was built for {pipeline.num_classes} classes but the dataset has {len(class_names)}"
        )
    if pipeline.needs_image and images_root is None:
        raise ValueError("instance-dependent noise needs images_root (the folder of the images) to crop instances")

    check_images(images)
    positions, labels, crowd, boxes = annotation_arrays(annotations, images, sorted_ids)
    img_keys = to_image_keys([image["id"] for image in images])[positions] if labels.size else np.zeros(0, np.int64)
    ann_keys = content_keys(labels, crowd, boxes, groups=positions)
    if pipeline.needs_image:
        decisions = _decide_image_by_image(
            pipeline, images, positions, labels, crowd, img_keys, ann_keys, boxes, images_root, progress
        )
    else:
        decisions = pipeline.decide(labels, crowd, img_keys, ann_keys)
    geometry = _corrupt_geometry(pipeline, decisions.ops, annotations, images, positions, img_keys, ann_keys, progress)

    tags = decisions.tags(labels)
    dataset_ids = sorted_ids[decisions.labels].tolist()
    new_annotations = []
    for index in np.flatnonzero(decisions.keep).tolist():
        ann = dict(annotations[index])
        ann["clean_category_id"] = ann["category_id"]
        ann["category_id"] = dataset_ids[index]
        ann["noise"] = tags[index]
        if index in geometry:
            ann.update(geometry[index])
        new_annotations.append(ann)
    return {**dataset, "annotations": new_annotations}, _report(decisions, labels, crowd, class_names)


def _report(decisions: NoiseDecisions, labels: np.ndarray, crowd: np.ndarray, class_names) -> NoiseReport:
    noisable = decisions.noisable
    op_codes, op_totals = np.unique(decisions.ops[noisable], return_counts=True)
    return NoiseReport(
        class_names=class_names,
        num_annotations=int(labels.size),
        num_crowd=int(crowd.sum()),
        num_dropped=int(labels.size - decisions.keep.sum()),
        num_noisable=int(noisable.size),
        num_class_flipped=int((decisions.labels[noisable] != labels[noisable]).sum()),
        transition_counts=realized_transition_matrix(
            labels[noisable], decisions.labels[noisable], len(class_names), normalize=False
        ),
        op_counts={OP_LABELS[c]: int(t) for c, t in zip(op_codes.tolist(), op_totals.tolist())},
    )


def _progress(iterable, enabled: bool, total: int, description: str, unit: str):
    if not enabled or not total:  # no empty bars (class noise has no per-annotation loop)
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=description, unit=unit)


def _corrupt_geometry(pipeline, ops, annotations, images, positions, img_keys, ann_keys, progress) -> dict[int, dict]:
    """New segmentation, bbox and area of annotations whose op is not clean; marks skipped ops in ``ops``."""
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
            segmentation, bbox, ops[index] = pipeline.corrupt(
                ann, image_hw, int(img_keys[index]), int(ann_keys[index]), int(ops[index]), "xywh"
            )
        except (ValueError, TypeError, KeyError) as err:
            raise ValueError(f"{name}: 'segmentation' cannot be read ({err})") from None
        if OP_LABELS[ops[index]].endswith("_skipped"):
            continue
        area = segmentation_area(segmentation, image_hw)
        geometry[index] = {"segmentation": segmentation, "bbox": bbox, "area": area}
    return geometry


def _decide_image_by_image(
    pipeline, images, positions, labels, crowd, img_keys, ann_keys, boxes, images_root, progress
) -> NoiseDecisions:
    """``decide`` one image at a time: instance crops need the pixels, and one image is decoded once."""
    order = np.argsort(positions, kind="stable")
    grouped = positions[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]]) if order.size else np.zeros(0, np.int64)
    ends = np.r_[starts[1:], order.size].astype(np.int64)
    keep, noisy, ops = np.ones(labels.size, bool), labels.copy(), np.zeros(labels.size, np.int8)
    for start, end in _progress(
        list(zip(starts.tolist(), ends.tolist())), progress, len(starts), "instance-dependent noise", "img"
    ):
        members = order[start:end]
        image_info = images[int(grouped[start])]

        def features_of(indices, members=members, image_info=image_info):
            path = os.path.join(os.fspath(images_root), image_info["file_name"])
            pixels = cv2.imread(path, cv2.IMREAD_COLOR)
            if pixels is None:
                raise ValueError(f"cannot read image {path!r}; check --images-root")
            xyxy = xyxy_boxes(boxes[members[indices]], ["xywh"] * indices.size)
            return instance_features(pixels, xyxy, pipeline.class_noise.feature_size)

        part = pipeline.decide(labels[members], crowd[members], img_keys[members], ann_keys[members], features_of)
        keep[members], noisy[members], ops[members] = part.keep, part.labels, part.ops
    return NoiseDecisions(keep, noisy, ops, np.flatnonzero(keep & ~crowd))
