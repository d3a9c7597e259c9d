"""Synthetic evidence of a trained Mask R-CNN on an instance dataset, for benchmarks at any scale: what
tools/find_label_errors.py holds after the model pass, as plain arrays (no model, no images), with known label noise.

- per annotation (each image gets one, the rest spread at random): a box (XYWH, 18-60 px in a 128 px image, as the
  toy data), the clean class (uniform over K) and the given one (40% flipped to another class uniformly: symmetric
  noise), the box head's class posterior (K + 1 columns, background last: the softmax of N(0, 1) logits with +3 on
  the clean class and -1 on the background), the mask IoU (Beta(12, 1.5); Beta(2, 4) for 20% bad masks) and the
  cross entropy of the given label (-log of its foreground probability);
- per image, the model's detections (scores >= 0.5, as the tool keeps them): each annotated object with p = 0.9
  (its box jittered by 10% of its size, the posterior's most probable class), 0.5 unannotated objects per image on
  average (the missing objects; found with p = 0.9) and 0.3 false positives (random boxes, low scores).
"""

from __future__ import annotations

import numpy as np

__all__ = ["synthesize"]

IMAGE_SIZE = 128  # px, the toy data's
BOX_SIZES = (18.0, 60.0)  # px, the toy objects' diameters
FLIP_RATE = 0.4
CLEAN_LOGIT, BACKGROUND_LOGIT = 3.0, -1.0
BAD_MASK_RATE = 0.2
DETECT_RATE, JITTER = 0.9, 0.1
MISSING_PER_IMAGE, FALSE_POSITIVES_PER_IMAGE = 0.5, 0.3


def _boxes(rng: np.random.Generator, count: int) -> np.ndarray:
    sizes = rng.uniform(*BOX_SIZES, size=(count, 2))
    return np.column_stack([rng.uniform(0, IMAGE_SIZE - sizes), sizes])


def _other_class(rng: np.random.Generator, classes: np.ndarray, num_classes: int) -> np.ndarray:
    return (classes + rng.integers(1, num_classes, size=len(classes))) % num_classes


def synthesize(num_annotations: int, num_images: int, num_classes: int, seed: int) -> dict:
    """The arrays of the module doc, seeded: per annotation "images", "boxes", "clean_labels", "labels",
    "class_probs", "losses", "mask_iou"; per detection "detection_images", "detection_boxes",
    "detection_classes", "detection_scores" (sorted by image)."""
    rng = np.random.default_rng(seed)
    rows = np.arange(num_annotations)
    per_image = 1 + rng.multinomial(num_annotations - num_images, np.full(num_images, 1 / num_images))
    images = np.repeat(np.arange(num_images), per_image)
    boxes = _boxes(rng, num_annotations)
    clean = rng.integers(0, num_classes, size=num_annotations)
    labels = np.where(rng.random(num_annotations) < FLIP_RATE, _other_class(rng, clean, num_classes), clean)
    logits = rng.normal(size=(num_annotations, num_classes + 1))
    logits[rows, clean] += CLEAN_LOGIT
    logits[:, -1] += BACKGROUND_LOGIT
    class_probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    class_probs /= class_probs.sum(axis=1, keepdims=True)
    foreground = class_probs[:, :-1] / class_probs[:, :-1].sum(axis=1, keepdims=True)
    losses = -np.log(np.maximum(foreground[rows, labels], 1e-12))
    mask_iou = np.where(
        rng.random(num_annotations) < BAD_MASK_RATE, rng.beta(2, 4, num_annotations), rng.beta(12, 1.5, num_annotations)
    )

    # detections: the annotated objects found, the unannotated ones found, false positives
    found = rng.random(num_annotations) < DETECT_RATE
    missing_images = np.repeat(np.arange(num_images), rng.poisson(MISSING_PER_IMAGE, num_images))
    missing_images = missing_images[rng.random(len(missing_images)) < DETECT_RATE]
    false_images = np.repeat(np.arange(num_images), rng.poisson(FALSE_POSITIVES_PER_IMAGE, num_images))
    near = boxes[found]
    near = near + rng.normal(scale=JITTER, size=near.shape) * np.tile(near[:, 2:], 2)
    near[:, 2:] = np.maximum(near[:, 2:], 1.0)
    detection_boxes = np.concatenate([near, _boxes(rng, len(missing_images)), _boxes(rng, len(false_images))])
    detection_images = np.concatenate([images[found], missing_images, false_images])
    detection_classes = np.concatenate(
        [foreground[found].argmax(axis=1), rng.integers(0, num_classes, size=len(missing_images) + len(false_images))]
    )
    detection_scores = 0.5 + 0.5 * np.concatenate(
        [rng.beta(6, 1.5, size=int(found.sum()) + len(missing_images)), rng.beta(1.5, 4, size=len(false_images))]
    )
    order = np.argsort(detection_images, kind="stable")
    return {
        "images": images,
        "boxes": boxes,
        "clean_labels": clean,
        "labels": labels,
        "class_probs": class_probs,
        "losses": losses,
        "mask_iou": mask_iou,
        "detection_images": detection_images[order],
        "detection_boxes": detection_boxes[order],
        "detection_classes": detection_classes[order],
        "detection_scores": detection_scores[order],
    }
