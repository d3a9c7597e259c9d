"""Rendering one toy image: textured shapes on a textured background, drawn back to front, and their visible masks
and outlines; image i of a split depends only on (seed, split, i, image_size)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ....noise.geometry import fill_polygon, mask_has_holes, polygon_area

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

SPLIT_CODES = {"train": 0, "val": 1}

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


def _contrasting_colour(rng: np.random.Generator, background: np.ndarray, objects: list[np.ndarray]) -> np.ndarray:
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
