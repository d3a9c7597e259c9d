"""Deterministic "toy shapes" instance segmentation data, written in COCO and Cityscapes layouts.

Each image holds 1-4 textured shapes on a textured background, drawn back to front so later shapes
occlude earlier ones. The 8 shape classes stand in for Cityscapes' 8 instance classes (same order as
detectron2's ``thing_classes``) and the pairs confused by the asymmetric Cityscapes noise preset look
alike: person/rider = circle/ellipse, truck/bus = square/rectangle, motorcycle/bicycle = star/cross.

Image ``i`` of a split depends only on ``(seed, split, i, image_size)``: it is drawn from
``np.random.default_rng([seed, SPLIT_CODES[split], i])``, so any subset can be generated on its own.
numpy + cv2 + pycocotools only (no detectron2), so it can be used outside of detectron2; its mask, polygon and box
encodings are those of the noise models (``noisy_seg.noise.geometry``).

The package is split by job: `render` (one image and its objects), `layouts` (writing COCO and Cityscapes files),
`cache` (the generated sets on disk: settings, manifest, locking, reuse).
"""

from .cache import (
    LAYOUTS,
    MANIFEST_NAME,
    SETTING_KEYS,
    ToySettings,
    ensure_toy_dataset,
    read_manifest,
    write_toy_dataset,
)
from .layouts import (
    CITYSCAPES_CLASS_NAMES,
    CITYSCAPES_LABEL_IDS,
    CITYSCAPES_TRAIN_IDS,
    cityscapes_maps,
    cityscapes_paths,
    coco_paths,
)
from .render import (
    GENERATOR_VERSION,
    SPLIT_CODES,
    TOY_CLASSES,
    TOY_SUPERCATEGORIES,
    ToyObject,
    ToySample,
    render_toy_sample,
)

__all__ = [
    "CITYSCAPES_CLASS_NAMES",
    "CITYSCAPES_LABEL_IDS",
    "CITYSCAPES_TRAIN_IDS",
    "GENERATOR_VERSION",
    "LAYOUTS",
    "MANIFEST_NAME",
    "SETTING_KEYS",
    "SPLIT_CODES",
    "TOY_CLASSES",
    "TOY_SUPERCATEGORIES",
    "ToyObject",
    "ToySample",
    "ToySettings",
    "cityscapes_maps",
    "cityscapes_paths",
    "coco_paths",
    "ensure_toy_dataset",
    "read_manifest",
    "render_toy_sample",
    "write_toy_dataset",
]
