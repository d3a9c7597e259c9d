"""A procedurally generated pretraining corpus: what ImageNet is to COCO, this is to the toy sets.

Objects of `CLASSES` (regular polygons, stars, other outlines, rendered glyphs and texture-defined blobs: 69 classes)
on cluttered backgrounds (flat, gradient, low-frequency noise, stripes, checks, dots, with distractor fragments and
lines), at scales from a quarter to nine tenths of the image. None of it comes from the toy sets' generator
(`toy_shapes/`): its own outlines, textures, colours and clutter, so what a backbone learns here transfers to a
task, it is not that task.

Two kinds of sample, both keyed: sample ``i`` of a split depends only on ``(seed, split, i, image_size)``
(``np.random.default_rng([seed, SPLIT_CODES[split], kind, i])``), so any subset can be drawn on its own, in any
order, in any worker:

- `render_object(settings, split, i)`: one object near the centre, its class the label (classification);
- `render_scene(settings, split, i)`: 2-6 objects, back to front with occlusion, and a label map (class per
  pixel, `len(CLASSES)` for background): a dense pretext.

numpy + OpenCV only (no torch, no detectron2). Images are BGR uint8, as detectron2 reads images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

__all__ = ["CLASSES", "CORPUS_VERSION", "CorpusSettings", "SPLIT_CODES", "render_object", "render_scene"]

CORPUS_VERSION = 1  # bump whenever the rendering changes: pretrained weights record the version they saw

SPLIT_CODES = {"train": 0, "val": 1}
_KIND_CODES = {"object": 0, "scene": 1}


@dataclass(frozen=True)
class CorpusSettings:
    """What a corpus is drawn with: its seed and image size (square)."""

    seed: int = 0
    image_size: int = 64

    def __post_init__(self):
        for name, minimum, maximum in (("seed", 0, 2**32 - 1), ("image_size", 32, 1024)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not minimum <= value <= maximum:
                raise ValueError(f"{name} must be an int in [{minimum}, {maximum}], got {value!r}")


# ---------------------------------------------------------------------------------------------
# Outlines: unit shapes (circumradius ~1) as (V, 2) x, y arrays; a class may be several polygons (holes are drawn
# as polygons of value 0 after the filled ones).
# ---------------------------------------------------------------------------------------------


def _ring(num: int, radius: float = 1.0, phase: float = 0.0) -> np.ndarray:
    angles = phase + np.linspace(0.0, 2.0 * np.pi, num, endpoint=False)
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _polygon(sides: int) -> Callable:
    return lambda rng: ([_ring(sides, phase=np.pi / 2)], [])


def _star(points: int) -> Callable:
    def outline(rng):
        radii = np.where(np.arange(2 * points) % 2 == 0, 1.0, rng.uniform(0.38, 0.55))
        return [_ring(2 * points, phase=np.pi / 2) * radii[:, None]], []

    return outline


def _annulus(rng):
    return [_ring(40)], [_ring(40, rng.uniform(0.45, 0.65))]


def _crescent(rng):
    return [_ring(40)], [_ring(40, rng.uniform(0.75, 0.9)) + [rng.uniform(0.35, 0.55), 0.0]]


def _heart(rng):
    t = np.linspace(0.0, 2.0 * np.pi, 48, endpoint=False)
    x, y = 16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return [np.stack([x, y + 2.5], axis=1) / 16.5], []


def _semicircle(rng):
    angles = np.linspace(0.0, np.pi, 24)
    return [np.stack([np.cos(angles), 0.5 - np.sin(angles)], axis=1)], []


def _wedge_circle(rng):
    mouth = rng.uniform(0.5, 0.9)
    angles = np.linspace(mouth / 2, 2.0 * np.pi - mouth / 2, 36)
    return [np.vstack([[0.0, 0.0], np.stack([np.cos(angles), np.sin(angles)], axis=1)])], []


def _plus(rng):
    a = rng.uniform(0.2, 0.32)
    return [
        np.array(
            [[-a, -1], [a, -1], [a, -a], [1, -a], [1, a], [a, a], [a, 1], [-a, 1], [-a, a], [-1, a], [-1, -a], [-a, -a]]
        )
    ], []


def _saltire(rng):
    outline, holes = _plus(rng)
    rotation = np.array([[1, -1], [1, 1]]) / np.sqrt(2)
    return [outline[0] @ rotation.T], holes


def _chevron(rng):
    t = rng.uniform(0.3, 0.45)
    return [
        np.array([[-1, -0.6], [0, 0.4], [1, -0.6], [1, -0.6 + t * 2], [0, 0.4 + t * 2], [-1, -0.6 + t * 2]]) - [0, t]
    ], []


def _l_shape(rng):
    a = rng.uniform(0.35, 0.55)
    return [np.array([[-0.8, -1], [-0.8 + a, -1], [-0.8 + a, 1 - a], [0.8, 1 - a], [0.8, 1], [-0.8, 1]])], []


def _t_shape(rng):
    a = rng.uniform(0.3, 0.45)
    return [
        np.array(
            [[-1, -1], [1, -1], [1, -1 + a], [a / 2, -1 + a], [a / 2, 1], [-a / 2, 1], [-a / 2, -1 + a], [-1, -1 + a]]
        )
    ], []


def _frame(rng):
    inner = rng.uniform(0.45, 0.7)
    square = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * 0.8
    return [square], [square * inner]


def _trapezoid(rng):
    top = rng.uniform(0.25, 0.55)
    return [np.array([[-1, 0.6], [1, 0.6], [top, -0.6], [-top, -0.6]])], []


def _parallelogram(rng):
    skew = rng.uniform(0.3, 0.6)
    return [np.array([[-1 + skew, -0.5], [1, -0.5], [1 - skew, 0.5], [-1, 0.5]])], []


def _teardrop(rng):
    angles = np.linspace(-np.pi / 2, 3 * np.pi / 2, 36)
    x, y = np.cos(angles) * 0.6, np.sin(angles) * 0.6 + 0.35
    return [np.vstack([[0.0, -1.0], np.stack([x, y], axis=1)[6:-6]])], []


def _bolt(rng):
    return [np.array([[0.2, -1], [-0.55, 0.1], [-0.05, 0.1], [-0.3, 1], [0.6, -0.25], [0.05, -0.25], [0.45, -1]])], []


def _hourglass(rng):
    waist = rng.uniform(0.08, 0.25)
    return [np.array([[-0.8, -1], [0.8, -1], [waist, 0], [0.8, 1], [-0.8, 1], [-waist, 0]])], []


def _double_arrow(rng):
    s = rng.uniform(0.15, 0.25)
    return [
        np.array(
            [
                [-1, 0],
                [-0.5, -0.55],
                [-0.5, -s],
                [0.5, -s],
                [0.5, -0.55],
                [1, 0],
                [0.5, 0.55],
                [0.5, s],
                [-0.5, s],
                [-0.5, 0.55],
            ]
        )
    ], []


_OUTLINES = {
    **{f"polygon{n}": _polygon(n) for n in range(3, 11)},
    **{f"star{k}": _star(k) for k in range(4, 9)},
    "annulus": _annulus,
    "crescent": _crescent,
    "heart": _heart,
    "semicircle": _semicircle,
    "wedge_circle": _wedge_circle,
    "plus": _plus,
    "saltire": _saltire,
    "chevron": _chevron,
    "l_shape": _l_shape,
    "t_shape": _t_shape,
    "frame": _frame,
    "trapezoid": _trapezoid,
    "parallelogram": _parallelogram,
    "teardrop": _teardrop,
    "bolt": _bolt,
    "hourglass": _hourglass,
    "double_arrow": _double_arrow,
}
# Glyphs: digits and capitals, less those another one becomes under rotation and font changes (O / 0, I / 1).
_GLYPHS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)
# Texture-defined blobs: a random smooth blob whose fill pattern is the class.
_TEXTURES = ("stripes", "checks", "dots", "grid", "waves", "speckle")

CLASSES = tuple(_OUTLINES) + tuple(f"glyph_{c}" for c in _GLYPHS) + tuple(f"texture_{t}" for t in _TEXTURES)
BACKGROUND = len(CLASSES)  # the label of background pixels in a scene's label map

# ---------------------------------------------------------------------------------------------
# Masks of one object at a given place, size and rotation.
# ---------------------------------------------------------------------------------------------


def _placed(points: np.ndarray, size: float, angle: float, center, aspect: float) -> np.ndarray:
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (points * [1.0, aspect]) @ rotation.T * (size / 2.0) + center


def _outline_mask(name, rng, shape, size, angle, center) -> np.ndarray:
    filled, holes = _OUTLINES[name](rng)
    aspect = rng.uniform(0.8, 1.0)
    mask = np.zeros(shape, np.uint8)
    shift = 4  # sub-pixel vertices
    for polygons, value in ((filled, 1), (holes, 0)):
        for polygon in polygons:
            vertices = np.round(_placed(np.asarray(polygon, float), size, angle, center, aspect) * (1 << shift))
            cv2.fillPoly(mask, [vertices.astype(np.int32)], value, lineType=cv2.LINE_8, shift=shift)
    return mask


def _glyph_mask(char, rng, shape, size, angle, center) -> np.ndarray:
    font = _FONTS[int(rng.integers(len(_FONTS)))]
    thickness = int(rng.integers(2, 5))
    (width, height), base = cv2.getTextSize(char, font, 1.0, thickness)
    scale = size / max(width, height + base, 1)
    canvas_size = int(size * 1.6) + 8
    canvas = np.zeros((canvas_size, canvas_size), np.uint8)
    thickness = max(1, int(round(thickness * scale)))
    (width, height), base = cv2.getTextSize(char, font, scale, thickness)
    origin = ((canvas_size - width) // 2, (canvas_size + height) // 2)
    cv2.putText(canvas, char, origin, font, scale, 1, thickness, cv2.LINE_8)
    matrix = cv2.getRotationMatrix2D((canvas_size / 2, canvas_size / 2), np.degrees(angle), 1.0)
    matrix[:, 2] += np.asarray(center) - canvas_size / 2
    return cv2.warpAffine(canvas, matrix, (shape[1], shape[0]), flags=cv2.INTER_NEAREST)


def _blob_mask(rng, shape, size, angle, center) -> np.ndarray:
    radii = 1.0 + 0.25 * np.convolve(np.tile(rng.normal(size=12), 3), np.ones(3) / 3, "same")[12:24]
    outline = _ring(12) * np.clip(radii, 0.6, 1.3)[:, None]
    mask = np.zeros(shape, np.uint8)
    vertices = np.round(_placed(outline, size, angle, center, rng.uniform(0.7, 1.0)) * 16).astype(np.int32)
    cv2.fillPoly(mask, [vertices], 1, lineType=cv2.LINE_8, shift=4)
    return mask


def _object_mask(class_index: int, rng, shape, size: float, angle: float, center) -> np.ndarray:
    name = CLASSES[class_index]
    if name in _OUTLINES:
        return _outline_mask(name, rng, shape, size, angle, center)
    if name.startswith("glyph_"):
        return _glyph_mask(name[len("glyph_") :], rng, shape, size, angle / 4, center)  # glyphs lean, not spin
    return _blob_mask(rng, shape, size, angle, center)


# ---------------------------------------------------------------------------------------------
# Fills: colours and textures (float32 H, W, 3 in 0..255).
# ---------------------------------------------------------------------------------------------


def _colour(rng, avoid=None, min_distance: float = 90.0) -> np.ndarray:
    for _ in range(16):
        colour = rng.uniform(0, 255, 3).astype(np.float32)
        if avoid is None or np.linalg.norm(colour - avoid) >= min_distance:
            return colour
    return (255.0 - avoid).astype(np.float32)  # the complement contrasts most


def _pattern(kind: str, rng, shape) -> np.ndarray:
    """A 0..1 float pattern (H, W) of the texture `kind`, at a random period and orientation."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    angle = rng.uniform(0.0, np.pi)
    u, v = xs * np.cos(angle) + ys * np.sin(angle), -xs * np.sin(angle) + ys * np.cos(angle)
    period = rng.uniform(3.0, 8.0)
    if kind == "stripes":
        return (np.floor(u / period) % 2).astype(np.float32)
    if kind == "checks":
        return ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    if kind == "dots":
        return (np.hypot((u % period) - period / 2, (v % period) - period / 2) < period / 3.5).astype(np.float32)
    if kind == "grid":
        return (((u % period) < 1.2) | ((v % period) < 1.2)).astype(np.float32)
    if kind == "waves":
        return (0.5 + 0.5 * np.sin(2 * np.pi * u / (2 * period) + 2.0 * np.sin(2 * np.pi * v / (4 * period)))).astype(
            np.float32
        )
    return (rng.uniform(size=shape) > 0.5).astype(np.float32)  # speckle


def _fill(rng, shape, avoid) -> np.ndarray:
    """A flat colour, or a two-colour texture of random kind, contrasting with `avoid`."""
    first = _colour(rng, avoid)
    if rng.uniform() < 0.6:
        return np.broadcast_to(first, (*shape, 3))
    return _textured(_TEXTURES[int(rng.integers(len(_TEXTURES)))], rng, shape, first, avoid)


def _textured(kind: str, rng, shape, first, avoid) -> np.ndarray:
    second = _colour(rng, first, 60.0)
    weight = _pattern(kind, rng, shape)[..., None]
    return first * (1 - weight) + second * weight


def _background(rng, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A background (H, W, 3) float and its mean colour (objects contrast with it)."""
    shape = (size, size)
    kind = int(rng.integers(6))
    base = rng.uniform(0, 255, 3).astype(np.float32)
    if kind == 0:
        image = base
    elif kind == 1:  # a linear gradient between two colours
        ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
        ramp = ramp[None, :] if rng.uniform() < 0.5 else ramp[:, None]
        image = base + ramp[..., None] * (rng.uniform(0, 255, 3).astype(np.float32) - base)
    elif kind == 2:  # low-frequency colour noise
        cells = int(rng.integers(2, 6))
        noise = cv2.resize(rng.normal(size=(cells, cells, 3)).astype(np.float32), shape, interpolation=cv2.INTER_CUBIC)
        image = base + rng.uniform(20.0, 50.0) * noise
    else:  # a faint texture: stripes, checks or dots
        texture = ("stripes", "checks", "dots")[kind - 3]
        image = _textured(texture, rng, shape, base, None)
        image = base + (image - base) * rng.uniform(0.2, 0.5)
    image = np.array(np.broadcast_to(np.clip(image, 0, 255), (*shape, 3)), np.float32, order="C")  # writable
    return image, image.reshape(-1, 3).mean(axis=0)


def _clutter(image: np.ndarray, rng, size: int, fragments: bool) -> None:
    """Distractors drawn in place: lines and (with `fragments`) small pieces of random classes, at most a sixth of
    the image across."""
    for _ in range(int(rng.integers(0, 5))):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        if not fragments or rng.uniform() < 0.5:
            p, q = rng.uniform(0, size, 2), rng.uniform(0, size, 2)
            cv2.line(image, tuple(int(c) for c in p), tuple(int(c) for c in q), colour, int(rng.integers(1, 3)))
        else:
            mask = _object_mask(
                int(rng.integers(len(CLASSES))),
                rng,
                image.shape[:2],
                rng.uniform(0.08, 0.17) * size,
                rng.uniform(0, 2 * np.pi),
                rng.uniform(0, size, 2),
            )
            image[mask.astype(bool)] = colour


def _paint(image, mask, rng, background_colour) -> None:
    region = mask.astype(bool)
    image[region] = _fill(rng, image.shape[:2], background_colour)[region]


def _finish(image: np.ndarray, rng) -> np.ndarray:
    """Mild sensor noise and blur, then BGR uint8."""
    if rng.uniform() < 0.5:
        image = cv2.GaussianBlur(image, (3, 3), rng.uniform(0.3, 1.0))
    image = image + rng.normal(0.0, rng.uniform(0.0, 8.0), image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _rng(settings: CorpusSettings, split: str, kind: str, index: int) -> np.random.Generator:
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {', '.join(SPLIT_CODES)}, got {split!r}")
    return np.random.default_rng([settings.seed, SPLIT_CODES[split], _KIND_CODES[kind], int(index)])


def render_object(settings: CorpusSettings, split: str, index: int) -> tuple[np.ndarray, int]:
    """(BGR image (S, S, 3) uint8, class index): one object of a uniformly drawn class near the centre, 25-90% of
    the image across, on a cluttered background."""
    rng = _rng(settings, split, "object", index)
    size = settings.image_size
    label = int(rng.integers(len(CLASSES)))
    image, background_colour = _background(rng, size)
    _clutter(image, rng, size, fragments=True)
    center = size / 2 + rng.uniform(-0.15, 0.15, 2) * size
    mask = _object_mask(label, rng, (size, size), rng.uniform(0.25, 0.9) * size, rng.uniform(0, 2 * np.pi), center)
    if not mask.any():  # a degenerate draw (never seen at 32 px and above): a blob of the class's fill instead
        mask = _blob_mask(rng, (size, size), size / 2, 0.0, center)
    _paint_class(image, mask, label, rng, background_colour)
    return _finish(image, rng), label


def render_scene(settings: CorpusSettings, split: str, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(BGR image (S, S, 3) uint8, label map (S, S) uint8): 2-6 objects of random classes, 15-60% of the image
    across, drawn back to front (later ones occlude), on a cluttered background; `BACKGROUND` elsewhere."""
    rng = _rng(settings, split, "scene", index)
    size = settings.image_size
    image, background_colour = _background(rng, size)
    _clutter(image, rng, size, fragments=False)  # a small unlabelled object would teach that objects are background
    labels = np.full((size, size), BACKGROUND, np.uint8)
    for _ in range(int(rng.integers(2, 7))):
        label = int(rng.integers(len(CLASSES)))
        mask = _object_mask(
            label,
            rng,
            (size, size),
            rng.uniform(0.15, 0.6) * size,
            rng.uniform(0, 2 * np.pi),
            rng.uniform(0.1, 0.9, 2) * size,
        )
        _paint_class(image, mask, label, rng, background_colour)
        labels[mask.astype(bool)] = label
    return _finish(image, rng), labels


def _paint_class(image, mask, label: int, rng, background_colour) -> None:
    """Texture classes are defined by their fill; every other class takes a random one."""
    name = CLASSES[label]
    region = mask.astype(bool)
    if name.startswith("texture_"):
        first = _colour(rng, background_colour)
        image[region] = _textured(name[len("texture_") :], rng, image.shape[:2], first, background_colour)[region]
    else:
        _paint(image, mask, rng, background_colour)
