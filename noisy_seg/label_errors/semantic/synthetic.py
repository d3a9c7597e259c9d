"""A synthetic semantic model's softmax and label maps with known label errors, for benchmarks at any size: per
image, smooth random class fields (class 0, the background, biased up) whose argmax is the clean label map; the
model's logits are those fields plus smooth noise (about 90% pixel accuracy), softmaxed (K, H, W) float32; the given
labels are the clean maps with each connected component of the object classes 1..K-1 dropped to the background with
probability `drop_fraction`. Each image is seeded by (seed, index): any image can be made alone, in any process.
"""

from __future__ import annotations

import cv2
import numpy as np

from .summary import drop_components

__all__ = ["BACKGROUND", "synthesize"]

BACKGROUND = 0


def _smooth(rng: np.random.Generator, channels: int, cell: int, height: int, width: int) -> np.ndarray:
    """Gaussian noise on a coarse grid (one value per `cell` x `cell` pixels), bicubically upsampled."""
    coarse = rng.normal(size=(channels, max(2, height // cell), max(2, width // cell))).astype(np.float32)
    return np.stack([cv2.resize(plane, (width, height), interpolation=cv2.INTER_CUBIC) for plane in coarse])


def synthesize(index: int, height: int, width: int, num_classes: int, drop_fraction: float, seed: int):
    """(pred_probs (K, H, W) float32, clean labels (H, W) uint8, given labels (H, W) uint8) of one image."""
    rng = np.random.default_rng([seed, index])
    fields = _smooth(rng, num_classes, 64, height, width)
    fields[BACKGROUND] += 1.5
    clean = fields.argmax(axis=0).astype(np.uint8)
    logits = 8.0 * fields + _smooth(rng, num_classes, 32, height, width)
    logits -= logits.max(axis=0)
    probs = np.exp(logits)
    probs /= probs.sum(axis=0)
    objects = [c for c in range(num_classes) if c != BACKGROUND]
    given = drop_components(clean, num_classes, drop_fraction, rng, classes=objects, fill=BACKGROUND)
    return probs, clean, given
