"""Dataset facts the noise presets need: class orders, COCO supercategories, asymmetric pairs.

All indices are detectron2 contiguous class indices (categories sorted by dataset id).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "ASYMMETRIC_PRESETS",
    "CITYSCAPES_THING_CLASSES",
    "COCO_N_PRESETS",
    "COCO_THING_CATEGORIES",
    "COCO_THING_CLASSES",
    "SpatialNoiseLevel",
    "VOC_CLASSES",
    "asymmetric_preset",
    "spatial_preset",
]

# (category id, name, supercategory) of the 80 COCO thing classes, in category-id order, which
# is detectron2's contiguous order.
# fmt: off
COCO_THING_CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"),
    (4, "motorcycle", "vehicle"), (5, "airplane", "vehicle"), (6, "bus", "vehicle"),
    (7, "train", "vehicle"), (8, "truck", "vehicle"), (9, "boat", "vehicle"),
    (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"), (13, "stop sign", "outdoor"),
    (14, "parking meter", "outdoor"), (15, "bench", "outdoor"), (16, "bird", "animal"),
    (17, "cat", "animal"), (18, "dog", "animal"), (19, "horse", "animal"), (20, "sheep", "animal"),
    (21, "cow", "animal"), (22, "elephant", "animal"), (23, "bear", "animal"),
    (24, "zebra", "animal"), (25, "giraffe", "animal"), (27, "backpack", "accessory"),
    (28, "umbrella", "accessory"), (31, "handbag", "accessory"), (32, "tie", "accessory"),
    (33, "suitcase", "accessory"), (34, "frisbee", "sports"), (35, "skis", "sports"),
    (36, "snowboard", "sports"), (37, "sports ball", "sports"), (38, "kite", "sports"),
    (39, "baseball bat", "sports"), (40, "baseball glove", "sports"), (41, "skateboard", "sports"),
    (42, "surfboard", "sports"), (43, "tennis racket", "sports"), (44, "bottle", "kitchen"),
    (46, "wine glass", "kitchen"), (47, "cup", "kitchen"), (48, "fork", "kitchen"),
    (49, "knife", "kitchen"), (50, "spoon", "kitchen"), (51, "bowl", "kitchen"),
    (52, "banana", "food"), (53, "apple", "food"), (54, "sandwich", "food"),
    (55, "orange", "food"), (56, "broccoli", "food"), (57, "carrot", "food"),
    (58, "hot dog", "food"), (59, "pizza", "food"), (60, "donut", "food"), (61, "cake", "food"),
    (62, "chair", "furniture"), (63, "couch", "furniture"), (64, "potted plant", "furniture"),
    (65, "bed", "furniture"), (67, "dining table", "furniture"), (70, "toilet", "furniture"),
    (72, "tv", "electronic"), (73, "laptop", "electronic"), (74, "mouse", "electronic"),
    (75, "remote", "electronic"), (76, "keyboard", "electronic"), (77, "cell phone", "electronic"),
    (78, "microwave", "appliance"), (79, "oven", "appliance"), (80, "toaster", "appliance"),
    (81, "sink", "appliance"), (82, "refrigerator", "appliance"), (84, "book", "indoor"),
    (85, "clock", "indoor"), (86, "vase", "indoor"), (87, "scissors", "indoor"),
    (88, "teddy bear", "indoor"), (89, "hair drier", "indoor"), (90, "toothbrush", "indoor"),
)
# fmt: on
COCO_THING_CLASSES: tuple[str, ...] = tuple(name for _, name, _ in COCO_THING_CATEGORIES)

# detectron2's Cityscapes thing order (cityscapesscripts labels with instances, not ignored).
CITYSCAPES_THING_CLASSES: tuple[str, ...] = (
    "person",
    "rider",
    "car",
    "truck",
    "bus",
    "train",
    "motorcycle",
    "bicycle",
)

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)


def _pairs_by_name(classes, one_way, both_ways) -> dict[int, tuple[int, ...]]:
    index = {name: i for i, name in enumerate(classes)}
    mapping = {index[src]: (index[dst],) for src, dst in one_way}
    for a, b in both_ways:
        mapping[index[a]] = (index[b],)
        mapping[index[b]] = (index[a],)
    return mapping


def _coco_supercategory_mapping() -> dict[int, tuple[int, ...]]:
    """Each class -> the OTHER members of its supercategory (person's group is just person)."""
    groups: dict[str, list[int]] = {}
    for index, (_, _, supercategory) in enumerate(COCO_THING_CATEGORIES):
        groups.setdefault(supercategory, []).append(index)
    return {
        index: tuple(other for other in groups[supercategory] if other != index)
        for index, (_, _, supercategory) in enumerate(COCO_THING_CATEGORIES)
        if len(groups[supercategory]) > 1
    }


@dataclass(frozen=True)
class _AsymmetricPreset:
    class_names: tuple[str, ...]
    mapping: MappingProxyType  # contiguous src -> tuple of contiguous targets (uniform)


ASYMMETRIC_PRESETS = MappingProxyType(
    {
        "cityscapes": _AsymmetricPreset(
            CITYSCAPES_THING_CLASSES,
            MappingProxyType(
                _pairs_by_name(
                    CITYSCAPES_THING_CLASSES,
                    (),
                    (("person", "rider"), ("truck", "bus"), ("motorcycle", "bicycle")),
                )
            ),
        ),
        "coco": _AsymmetricPreset(COCO_THING_CLASSES, MappingProxyType(_coco_supercategory_mapping())),
        "voc": _AsymmetricPreset(
            VOC_CLASSES,
            MappingProxyType(
                _pairs_by_name(
                    VOC_CLASSES,
                    (("bird", "aeroplane"), ("diningtable", "chair"), ("bus", "car"), ("sheep", "horse")),
                    (("bicycle", "motorbike"), ("cat", "dog")),
                )
            ),
        ),
    }
)


def asymmetric_preset(name: str) -> _AsymmetricPreset:
    """Class names and src -> targets mapping of a named asymmetric preset."""
    if name not in ASYMMETRIC_PRESETS:
        raise ValueError(f"unknown asymmetric preset {name!r}; choose one of {sorted(ASYMMETRIC_PRESETS)}")
    return ASYMMETRIC_PRESETS[name]


@dataclass(frozen=True)
class SpatialNoiseLevel:
    """One COCO-N / Cityscapes-N level (Grad, Kimhi et al., arXiv 2406.10891)."""

    p: float  # probability of EACH op family (approximation, localization, rand): 3p are corrupted
    simplify_tolerance: float  # approximation: shapely simplify tolerance t, px
    jitter_sigma: float  # localization: Gaussian contour-vertex jitter sigma, px
    kernel: int  # rand: dilation / erosion kernel size k (k x k)
    class_noise_rate: float  # r of the benchmark's uniform_mix_C(r, K): realized flip rate r (K - 1) / K


COCO_N_PRESETS = MappingProxyType(
    {
        "easy": SpatialNoiseLevel(p=0.20, simplify_tolerance=5, jitter_sigma=2, kernel=3, class_noise_rate=0.2),
        "medium": SpatialNoiseLevel(p=0.25, simplify_tolerance=10, jitter_sigma=3, kernel=5, class_noise_rate=0.3),
        "hard": SpatialNoiseLevel(p=0.30, simplify_tolerance=15, jitter_sigma=4, kernel=7, class_noise_rate=0.4),
    }
)


def spatial_preset(name: str) -> SpatialNoiseLevel:
    """Parameters of the COCO-N level ``easy``, ``medium`` or ``hard``."""
    if name not in COCO_N_PRESETS:
        raise ValueError(f"unknown spatial preset {name!r}; choose one of {sorted(COCO_N_PRESETS)}")
    return COCO_N_PRESETS[name]
