"""Deterministic "toy shapes" instance segmentation data, written in COCO and Cityscapes layouts.

Each image holds 1-4 textured shapes on a textured background, drawn back to front so later shapes
occlude earlier ones. The 8 shape classes stand in for Cityscapes' 8 instance classes (same order as
detectron2's ``thing_classes``) and the pairs confused by the asymmetric Cityscapes noise preset look
alike: person/rider = circle/ellipse, truck/bus = square/rectangle, motorcycle/bicycle = star/cross.

Image ``i`` of a split depends only on ``(seed, split, i, image_size)``: it is drawn from
``np.random.default_rng([seed, SPLIT_CODES[split], i])``, so any subset can be generated on its own.
numpy + cv2 + pycocotools only (no detectron2), so it can be used outside of detectron2; its mask, polygon and box
encodings are those of the noise models (``noisy_seg.noise.geometry``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from filelock import FileLock

from ...noise.geometry import bbox_of_segmentation, fill_polygon, mask_has_holes, mask_to_exact_polygons, polygon_area

__all__ = [
    "CITYSCAPES_CLASS_NAMES",
    "CITYSCAPES_LABEL_IDS",
    "CITYSCAPES_TRAIN_IDS",
    "GENERATOR_VERSION",
    "LAYOUTS",
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

# Bump whenever the rendering changes: ensure_toy_dataset regenerates on a version mismatch.
GENERATOR_VERSION = 1

TOY_CLASSES = ("circle", "ellipse", "triangle", "square", "rectangle", "arrow", "star", "cross")
# Supercategories group exactly the Cityscapes asymmetric-noise pairs, so COCO-style
# "flip within supercategory" noise on this data equals the Cityscapes preset.
TOY_SUPERCATEGORIES = (
    "round",
    "round",
    "triangular",
    "quadrilateral",
    "quadrilateral",
    "arrow",
    "spiky",
    "spiky",
)
CITYSCAPES_CLASS_NAMES = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
CITYSCAPES_LABEL_IDS = (24, 25, 26, 27, 28, 31, 32, 33)
CITYSCAPES_TRAIN_IDS = (11, 12, 13, 14, 15, 16, 17, 18)
ROAD_LABEL_ID = 7  # the background is Cityscapes "road"
ROAD_TRAIN_ID = 0
CITY_NAME = "toycity"  # no underscore: cityscapesscripts splits file names on "_"

SPLIT_CODES = {"train": 0, "val": 1}
LAYOUTS = ("coco", "cityscapes")
MANIFEST_NAME = "MANIFEST.json"
SETTING_KEYS = ("seed", "num_train", "num_val", "image_size")  # what makes two toy sets different (not the layouts)
MAX_IMAGES = 200_000  # per split: a toy set, not a benchmark (about 6 GB of PNGs at 128 px)
MAX_IMAGE_SIZE = 1024

REFERENCE_IMAGE_SIZE = 128  # object sizes below are for this size and scale with image_size
OBJECT_DIAMETER_RANGE = (18.0, 60.0)
MAX_OBJECTS = 4
MIN_VISIBLE_AREA = 40
MIN_VISIBLE_FRACTION = 0.3
MIN_BACKGROUND_CONTRAST = 100.0  # RGB distance between an object's colour and the background's
MIN_OBJECT_CONTRAST = 60.0  # ... and between two objects' colours
OUTLINE_FIXED_POINT_BITS = 4  # outlines live on a 1/16 px grid, so json and raster agree exactly


@dataclass(frozen=True)
class ToyObject:
    """One kept shape: class index (0-7), full outline (V, 2) float x, y in pixel-index coordinates
    (cv2 / Cityscapes convention, the outline may leave the image), visible mask (H, W) bool."""

    class_index: int
    outline: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class ToySample:
    """A rendered image (H, W, 3) uint8 RGB and its objects in back-to-front drawing order."""

    image: np.ndarray
    objects: tuple[ToyObject, ...]


# ---------------------------------------------------------------------------------------------
# Shapes: unit outlines with circumradius ~1, scaled by diameter / 2, rotated, translated.
# ---------------------------------------------------------------------------------------------


def _ellipse_outline(aspect: float, num_vertices: int = 48) -> np.ndarray:
    angles = np.linspace(0.0, 2.0 * np.pi, num_vertices, endpoint=False)
    return np.stack([np.cos(angles), aspect * np.sin(angles)], axis=1)


def _regular_star(num_points: int, inner_radius: float) -> np.ndarray:
    angles = np.pi / 2 + np.arange(2 * num_points) * np.pi / num_points
    radii = np.where(np.arange(2 * num_points) % 2 == 0, 1.0, inner_radius)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _unit_outline(class_index: int, aspect: float) -> np.ndarray:
    """Unit outline (V, 2) of a class; ``aspect`` (0.4-0.6) shapes the ellipse and the rectangle."""
    name = TOY_CLASSES[class_index]
    if name == "circle":
        return _ellipse_outline(1.0)
    if name == "ellipse":
        return _ellipse_outline(aspect)
    if name == "triangle":
        return _regular_star(3, 0.5)[::2]  # the 3 outer points of a 3-point star
    if name in ("square", "rectangle"):
        half_height = aspect if name == "rectangle" else 1.0
        corner = np.array([1.0, half_height]) / np.hypot(1.0, half_height)
        return corner * np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.float64)
    if name == "arrow":
        return np.array(
            [[-1.0, -0.22], [0.15, -0.22], [0.15, -0.6], [1.0, 0.0], [0.15, 0.6], [0.15, 0.22], [-1.0, 0.22]]
        )
    if name == "star":
        return _regular_star(5, 0.42)
    if name == "cross":
        arm, reach = 0.3, 0.95
        return np.array(
            [
                [-arm, -reach],
                [arm, -reach],
                [arm, -arm],
                [reach, -arm],
                [reach, arm],
                [arm, arm],
                [arm, reach],
                [-arm, reach],
                [-arm, arm],
                [-reach, arm],
                [-reach, -arm],
                [-arm, -arm],
            ]
        )
    raise ValueError(f"unknown toy class index {class_index}; expected 0..{len(TOY_CLASSES) - 1}")


def _place_outline(unit: np.ndarray, diameter: float, angle: float, center: np.ndarray) -> np.ndarray:
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    outline = unit @ rotation.T * (diameter / 2.0) + center
    scale = 1 << OUTLINE_FIXED_POINT_BITS
    return np.round(outline * scale) / scale


# ---------------------------------------------------------------------------------------------
# Textures and colours.
# ---------------------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, image_size: int, cells: int) -> np.ndarray:
    """Low-frequency noise (H, W, 3) float, roughly unit variance, from an upsampled random grid."""
    grid = rng.normal(size=(cells, cells, 3)).astype(np.float32)
    return cv2.resize(grid, (image_size, image_size), interpolation=cv2.INTER_CUBIC)


def _background(rng: np.random.Generator, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Background texture (H, W, 3) float and the colours (K, 3) objects must contrast with."""
    kind = ("flat", "gradient", "stripes", "noise")[int(rng.integers(4))]
    colours = rng.integers(0, 256, size=(2, 3)).astype(np.float32)
    if kind == "flat":
        return np.broadcast_to(colours[0], (image_size, image_size, 3)).copy(), colours[:1]
    ys, xs = np.mgrid[0:image_size, 0:image_size].astype(np.float32)
    angle = rng.uniform(0.0, np.pi)
    along = xs * np.cos(angle) + ys * np.sin(angle)
    if kind == "gradient":
        weight = (along - along.min()) / max(float(np.ptp(along)), 1e-6)
        return colours[0] + weight[..., None] * (colours[1] - colours[0]), colours
    if kind == "stripes":
        period = rng.uniform(6.0, 16.0)
        second = (np.floor(along / (period / 2)) % 2).astype(bool)
        return np.where(second[..., None], colours[1], colours[0]), colours
    amplitude = rng.uniform(10.0, 30.0)
    texture = colours[0] + amplitude * _smooth_noise(rng, image_size, int(rng.integers(3, 9)))
    return texture + rng.normal(0.0, 6.0, size=texture.shape).astype(np.float32), colours[:1]


def _contrasting_colour(
    rng: np.random.Generator, background: np.ndarray, objects: list[np.ndarray]
) -> np.ndarray:
    """First of 16 random colours far enough from the background and earlier objects' colours;
    the one with the largest margin if none is (a fixed draw count keeps the stream aligned)."""
    candidates = rng.integers(0, 256, size=(16, 3)).astype(np.float32)
    background_distance = np.linalg.norm(candidates[:, None] - background[None], axis=2).min(1)
    margin = background_distance - MIN_BACKGROUND_CONTRAST
    if objects:
        object_distance = np.linalg.norm(candidates[:, None] - np.stack(objects)[None], axis=2).min(1)
        margin = np.minimum(margin, object_distance - MIN_OBJECT_CONTRAST)
    passing = np.flatnonzero(margin >= 0)
    return candidates[passing[0] if passing.size else int(np.argmax(margin))]


def _object_texture(rng: np.random.Generator, colour: np.ndarray, image_size: int) -> np.ndarray:
    """Object texture (H, W, 3) float: flat colour or colour plus pixel noise."""
    if rng.random() < 0.5:
        return np.broadcast_to(colour, (image_size, image_size, 3))
    sigma = rng.uniform(8.0, 24.0)
    return colour + rng.normal(0.0, sigma, size=(image_size, image_size, 3)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Scene: sample candidates, drop the ones too occluded to annotate, paint.
# ---------------------------------------------------------------------------------------------


def _topmost_label_map(full_masks: list[np.ndarray], active: list[int], image_size: int) -> np.ndarray:
    """(H, W) int map of the top-most active candidate per pixel (-1 for background)."""
    label_map = np.full((image_size, image_size), -1, dtype=np.int16)
    for candidate in active:
        label_map[full_masks[candidate]] = candidate
    return label_map


def _is_annotatable(visible: np.ndarray, full_area: float) -> bool:
    area = int(visible.sum())
    if area < MIN_VISIBLE_AREA or area < MIN_VISIBLE_FRACTION * full_area:
        return False
    return not mask_has_holes(visible)


def _validate_request(seed: int, split: str, index: int, image_size: int) -> None:
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {sorted(SPLIT_CODES)}, got {split!r}")
    if not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"index must be a non-negative int, got {index!r}")
    if not isinstance(image_size, (int, np.integer)) or image_size < 64:
        raise ValueError(f"image_size must be an int >= 64 (objects are 18-60 px at 128), got {image_size!r}")


def render_toy_sample(seed: int, split: str, index: int, image_size: int = 128) -> ToySample:
    """Render image ``index`` of ``split``: (H, W, 3) uint8 RGB image with H = W = image_size and its
    kept objects (back to front). Objects whose visible part is < 30% of the shape, < 40 px, or
    has holes are not drawn at all, so every painted shape is annotated."""
    _validate_request(seed, split, index, image_size)
    rng = np.random.default_rng([int(seed), SPLIT_CODES[split], int(index)])
    background, background_colours = _background(rng, image_size)

    scale = image_size / REFERENCE_IMAGE_SIZE
    num_candidates = int(rng.integers(1, MAX_OBJECTS + 1))
    classes, outlines, textures, colours = [], [], [], []
    for _ in range(num_candidates):
        class_index = int(rng.integers(len(TOY_CLASSES)))
        diameter = rng.uniform(*OBJECT_DIAMETER_RANGE) * scale
        center = rng.uniform(0.15 * image_size, 0.85 * image_size, size=2)
        unit = _unit_outline(class_index, aspect=rng.uniform(0.4, 0.6))
        outlines.append(_place_outline(unit, diameter, rng.uniform(0.0, 2.0 * np.pi), center))
        colours.append(_contrasting_colour(rng, background_colours, colours))
        textures.append(_object_texture(rng, colours[-1], image_size))
        classes.append(class_index)

    full_masks = [fill_polygon(outline, image_size, image_size, OUTLINE_FIXED_POINT_BITS) for outline in outlines]
    full_areas = [polygon_area(outline) for outline in outlines]
    active = list(range(num_candidates))
    while True:
        label_map = _topmost_label_map(full_masks, active, image_size)
        rejected = [c for c in active if not _is_annotatable(label_map == c, full_areas[c])]
        if not rejected:
            break
        # Only shapes above a rejected one can hide it: dropping the top-most rejected shape may
        # uncover shapes below, so re-check after each removal.
        active.remove(rejected[-1])

    image = background
    for candidate in active:
        image = np.where((label_map == candidate)[..., None], textures[candidate], image)
    # A light blur softens the aliased edges like a camera would; labels stay pixel-exact.
    image = cv2.GaussianBlur(np.clip(image, 0, 255).astype(np.float32), (3, 3), 0.6)
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    objects = tuple(ToyObject(classes[c], outlines[c], label_map == c) for c in active)
    return ToySample(image=image, objects=objects)


# ---------------------------------------------------------------------------------------------
# Cityscapes ground truth (the COCO encodings are the noise models', see noisy_seg.noise.geometry).
# ---------------------------------------------------------------------------------------------


def cityscapes_maps(sample: ToySample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cityscapes ground-truth maps (H, W) of a sample: instanceIds uint16 (label_id * 1000 +
    per-class instance index on objects, road label id 7 elsewhere), labelIds uint8,
    labelTrainIds uint8 (road 0, person..bicycle 11..18)."""
    if not isinstance(sample, ToySample):
        raise ValueError(f"sample must be a ToySample from render_toy_sample, got {type(sample).__name__}")
    shape = sample.image.shape[:2]
    instance_ids = np.full(shape, ROAD_LABEL_ID, dtype=np.uint16)
    label_ids = np.full(shape, ROAD_LABEL_ID, dtype=np.uint8)
    train_ids = np.full(shape, ROAD_TRAIN_ID, dtype=np.uint8)
    per_class_count = [0] * len(TOY_CLASSES)
    for obj in sample.objects:
        label_id = CITYSCAPES_LABEL_IDS[obj.class_index]
        instance_ids[obj.mask] = label_id * 1000 + per_class_count[obj.class_index]
        per_class_count[obj.class_index] += 1
        label_ids[obj.mask] = label_id
        train_ids[obj.mask] = CITYSCAPES_TRAIN_IDS[obj.class_index]
    return instance_ids, label_ids, train_ids


# ---------------------------------------------------------------------------------------------
# Writing the layouts.
# ---------------------------------------------------------------------------------------------


def coco_paths(root: str | os.PathLike, split: str) -> tuple[Path, Path]:
    """(json_file, image_root) of the COCO layout under ``root``."""
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {sorted(SPLIT_CODES)}, got {split!r}")
    root = Path(root)
    return root / "coco" / "annotations" / f"instances_{split}.json", root / "coco" / split


def cityscapes_paths(root: str | os.PathLike, split: str) -> tuple[Path, Path]:
    """(image_dir, gt_dir) of the Cityscapes layout under ``root``, as detectron2's loaders take them."""
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {sorted(SPLIT_CODES)}, got {split!r}")
    root = Path(root)
    return root / "cityscapes" / "leftImg8bit" / split, root / "cityscapes" / "gtFine" / split


def _write_png(path: Path, array: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".png", array)
    if not ok:
        raise OSError(f"cv2 could not encode {path.name} as PNG")
    path.write_bytes(encoded.tobytes())


def _coco_categories() -> list[dict]:
    return [
        {
            "id": i + 1,
            "name": name,
            "supercategory": TOY_SUPERCATEGORIES[i],
            "cityscapes_name": CITYSCAPES_CLASS_NAMES[i],
        }
        for i, name in enumerate(TOY_CLASSES)
    ]


def _write_split(
    root: Path, split: str, seed: int, num_images: int, image_size: int, layouts: tuple[str, ...]
) -> int:
    """Write one split in the requested layouts; returns the number of annotations."""
    json_file, image_root = coco_paths(root, split)
    image_dir, gt_dir = cityscapes_paths(root, split)
    if "coco" in layouts:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        image_root.mkdir(parents=True, exist_ok=True)
    if "cityscapes" in layouts:
        (image_dir / CITY_NAME).mkdir(parents=True, exist_ok=True)
        (gt_dir / CITY_NAME).mkdir(parents=True, exist_ok=True)

    images, annotations, num_annotations = [], [], 0
    for index in range(num_images):
        sample = render_toy_sample(seed, split, index, image_size)
        bgr = np.ascontiguousarray(sample.image[:, :, ::-1])
        if "coco" in layouts:
            image_id = index + 1
            file_name = f"{index:06d}.png"
            _write_png(image_root / file_name, bgr)
            images.append({"id": image_id, "file_name": file_name, "height": image_size, "width": image_size})
            for k, obj in enumerate(sample.objects):
                annotations.append(
                    {
                        # Stable per image (no running counter), so ids do not depend on num_images.
                        "id": image_id * 10 + k,
                        "image_id": image_id,
                        "category_id": obj.class_index + 1,
                        "bbox": bbox_of_segmentation(obj.mask, "mask"),
                        "area": int(obj.mask.sum()),
                        "iscrowd": 0,
                        "segmentation": mask_to_exact_polygons(obj.mask),
                    }
                )
        if "cityscapes" in layouts:
            stem = f"{CITY_NAME}_000000_{index:06d}"
            _write_png(image_dir / CITY_NAME / f"{stem}_leftImg8bit.png", bgr)
            instance_ids, label_ids, train_ids = cityscapes_maps(sample)
            _write_png(gt_dir / CITY_NAME / f"{stem}_gtFine_instanceIds.png", instance_ids)
            _write_png(gt_dir / CITY_NAME / f"{stem}_gtFine_labelIds.png", label_ids)
            _write_png(gt_dir / CITY_NAME / f"{stem}_gtFine_labelTrainIds.png", train_ids)
            # Cityscapes convention: full outlines back to front, each covering the earlier ones.
            last = image_size - 1
            objects = [{"label": "road", "polygon": [[0, 0], [last, 0], [last, last], [0, last]]}]
            objects += [
                {"label": CITYSCAPES_CLASS_NAMES[obj.class_index], "polygon": obj.outline.tolist()}
                for obj in sample.objects
            ]
            polygons = {"imgHeight": image_size, "imgWidth": image_size, "objects": objects}
            (gt_dir / CITY_NAME / f"{stem}_gtFine_polygons.json").write_text(json.dumps(polygons))
        num_annotations += len(sample.objects)
    if "coco" in layouts:
        coco = {
            "info": {
                "description": "noisy_seg toy shapes",
                "version": str(GENERATOR_VERSION),
                "seed": seed,
                "split": split,
            },
            "licenses": [],
            "images": images,
            "annotations": annotations,
            "categories": _coco_categories(),
        }
        json_file.write_text(json.dumps(coco))
    return num_annotations


def _parse_layout(layout: str) -> tuple[str, ...]:
    if layout == "both":
        return LAYOUTS
    if layout in LAYOUTS:
        return (layout,)
    raise ValueError(f"layout must be 'coco', 'cityscapes' or 'both', got {layout!r}")


@dataclass(frozen=True)
class ToySettings:
    """What a toy set is generated with, checked on construction: ``write_toy_dataset`` and ``ensure_toy_dataset``
    take these fields (positionally or by name). ``layout`` is "coco", "cityscapes" or "both"."""

    seed: int = 0
    num_train: int = 512
    num_val: int = 96
    image_size: int = 128
    layout: str = "both"

    def __post_init__(self):
        for name, minimum, maximum in (
            ("seed", 0, 2**32 - 1),
            ("num_train", 1, MAX_IMAGES),
            ("num_val", 1, MAX_IMAGES),
            ("image_size", 64, MAX_IMAGE_SIZE),
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not minimum <= value <= maximum:
                raise ValueError(f"{name} must be an int in [{minimum}, {maximum}], got {value!r}")
        _parse_layout(self.layout)

    def manifest(self) -> dict:
        """The MANIFEST.json content of a set with these settings (less its annotation counts)."""
        return {
            "name": "toy_shapes",
            "version": GENERATOR_VERSION,
            **{key: int(getattr(self, key)) for key in SETTING_KEYS},
            "layouts": list(_parse_layout(self.layout)),
            "classes": list(TOY_CLASSES),
        }


def read_manifest(root: str | os.PathLike) -> dict | None:
    """The MANIFEST.json of a complete data set under ``root``, or None if there is none."""
    try:
        return json.loads((Path(root) / MANIFEST_NAME).read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def _satisfies(existing: dict | None, wanted: dict) -> bool:
    if existing is None:
        return False
    same = all(existing.get(key) == wanted[key] for key in wanted if key != "layouts")
    return same and set(wanted["layouts"]) <= set(existing.get("layouts", []))


def _lock_for(root: Path) -> FileLock:
    return FileLock(str(root.parent / f".{root.name}.lock"))


def _generate_locked(root: Path, manifest: dict) -> dict:
    """Write into a staging folder beside ``root`` and swap it in; caller holds the lock."""
    existing = read_manifest(root)
    if root.exists() and any(root.iterdir()) and (existing is None or existing.get("name") != "toy_shapes"):
        # Replacing means deleting: never do that to a folder this module did not write.
        raise ValueError(f"{root} exists and is not a toy_shapes data set; pass a new or empty folder")
    for stale in root.parent.glob(f".{root.name}.staging-*"):  # left by a crashed run
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.staging-", dir=root.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it owner-only; the data set is meant to be shared
        start = time.perf_counter()
        layouts = tuple(manifest["layouts"])
        counts = {
            split: _write_split(
                staging, split, manifest["seed"], manifest[f"num_{split}"], manifest["image_size"], layouts
            )
            for split in SPLIT_CODES
        }
        # Written last: its presence is what marks the folder complete.
        (staging / MANIFEST_NAME).write_text(json.dumps({**manifest, "num_annotations": counts}, indent=1))
        retired = root.parent / f".{root.name}.retired-{uuid.uuid4().hex}"
        if root.exists():
            os.rename(root, retired)
        os.rename(staging, root)
        shutil.rmtree(retired, ignore_errors=True)
        return {"root": root, "seconds": time.perf_counter() - start, "num_annotations": counts}
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_toy_dataset(root: str | os.PathLike, *settings, **named_settings) -> dict:
    """(Re)generate the data set at ``root`` atomically with ``ToySettings(*settings, **named_settings)``; returns
    {"root", "seconds", "num_annotations"}."""
    manifest = ToySettings(*settings, **named_settings).manifest()
    root = Path(root).resolve()
    root.parent.mkdir(parents=True, exist_ok=True)
    with _lock_for(root):
        return _generate_locked(root, manifest)


def ensure_toy_dataset(root: str | os.PathLike, *settings, **named_settings) -> Path:
    """Path to a complete data set at ``root`` with ``ToySettings(*settings, **named_settings)``, generating it if
    there is none (or one of an older generator version, or without a requested layout). A set generated with
    OTHER settings is never replaced: that raises ValueError. Safe to call from several processes at once (file
    lock)."""
    wanted = ToySettings(*settings, **named_settings).manifest()
    root = Path(root).resolve()
    if _satisfies(read_manifest(root), wanted):
        return root
    _refuse_other_settings(root, read_manifest(root), wanted)
    root.parent.mkdir(parents=True, exist_ok=True)
    with _lock_for(root):
        existing = read_manifest(root)
        if not _satisfies(existing, wanted):  # another process may have finished it
            _refuse_other_settings(root, existing, wanted)
            if existing is not None:  # same settings: an older generator version or fewer layouts
                wanted = {**wanted, "layouts": sorted(set(wanted["layouts"]) | set(existing.get("layouts", [])))}
            _generate_locked(root, wanted)
    return root


def _refuse_other_settings(root: Path, existing: dict | None, wanted: dict) -> None:
    """A set generated with other settings is someone's data: never replace it behind their back."""
    if existing is None or all(existing.get(key) == wanted[key] for key in SETTING_KEYS):
        return
    have = ", ".join(f"{key}={existing.get(key)}" for key in SETTING_KEYS)
    want = ", ".join(f"{key}={wanted[key]}" for key in SETTING_KEYS)
    raise ValueError(
        f"toy data at {root} was generated with {have}, not the requested {want}; it is left as it is. "
        "Generate sets with other settings into their own folder (tools/generate_toy_data.py picks one) and "
        "train on them by name (see datasets/README.md), or remove the folder to regenerate it"
    )
