"""Markov boundary noise (Yao et al., ICLR 2023): the process, checked against a plain per-component version of it,
and its statistics."""

import cv2
import numpy as np
import pytest
from scipy import ndimage

from noisy_seg.noise import build_noise, build_semantic_noise, named_noise_spec
from noisy_seg.noise.boundary_noise import DIRECTION_STREAM, STEP_STREAM, TOGGLE_STREAM, BoundaryNoise
from noisy_seg.noise.keyed_random import image_key, keyed_uniform, keyed_uniform_at
from noisy_seg.noise.semantic_noise import SemanticNoise

IGNORE = 255


def scene(seed=0, size=(64, 80), num_classes=6, shapes=14, ignore=True):
    """Overlapping rectangles of classes 1..K-1 on class 0, some touching the image edge, and an ignore strip."""
    rng = np.random.default_rng(seed)
    label_map = np.zeros(size, dtype=np.uint8)
    for _ in range(shapes):
        y, x = rng.integers(-4, size[0] - 4), rng.integers(-4, size[1] - 4)
        h, w = rng.integers(3, 24, size=2)
        label_map[max(0, y) : y + h, max(0, x) : x + w] = rng.integers(1, num_classes)
    if ignore:
        label_map[size[0] // 2 : size[0] // 2 + 3, 10:40] = IGNORE
    return label_map


def squares(rows=6, cols=8, size=8, gap=20, num_classes=5, seed=0):
    """Separated squares of classes 1..K-1 on background 0 (far enough apart that their walks never meet)."""
    rng = np.random.default_rng(seed)
    label_map = np.zeros((rows * (size + gap) + gap, cols * (size + gap) + gap), dtype=np.uint8)
    for r in range(rows):
        for c in range(cols):
            y, x = gap + r * (size + gap), gap + c * (size + gap)
            label_map[y : y + size, x : x + size] = rng.integers(1, num_classes)
    return label_map


def plain_reference(noise: BoundaryNoise, label_map, image_id):
    """The process of the module docstring written the obvious way: one component at a time, every step on the
    whole image, the nearest outside pixel from a whole-image distance transform."""
    plan, components = SemanticNoise(
        0.0, noise.num_classes, ignore_label=noise.ignore_label, background_label=noise.background_label
    ).plan(label_map, image_id)
    key = image_key(image_id)
    height, width = label_map.shape
    raster = np.arange(height * width, dtype=np.int64).reshape(height, width)
    allowed = label_map != noise.ignore_label
    noisy = label_map.copy()
    if plan.keys.size == 0 or noise.steps == 0:
        return noisy
    grows = (
        keyed_uniform(noise.seed, key, plan.keys, DIRECTION_STREAM, draws=noise.steps).reshape(
            plan.keys.size, noise.steps
        )
        < noise.grow_prob
    )

    def any_neighbour(mask):
        padded = np.pad(mask, 1)
        return padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]

    for index in range(plan.keys.size):
        inside = components == index + 1
        mask = inside.copy()
        for step in range(noise.steps if noise.rate > 0 else 0):
            if grows[index, step]:
                ring = ~mask & allowed & any_neighbour(mask)
            else:
                ring = mask & any_neighbour(~mask)  # np.pad's zeros: the image edge is no boundary
            draws = keyed_uniform_at(
                noise.seed, key, plan.keys[index], STEP_STREAM, step * height * width + raster[ring]
            )
            flips = np.zeros_like(ring)
            flips[ring] = draws < noise.rate
            mask ^= flips
        if noise.flip_rate > 0:
            x, y, w, h = plan.boxes[index].tolist()
            reach = noise.steps + 4
            window = (slice(max(0, y - reach), y + h + reach), slice(max(0, x - reach), x + w + reach))
            toggles = keyed_uniform_at(noise.seed, key, plan.keys[index], TOGGLE_STREAM, raster[window].ravel())
            part = (mask[window] ^ (toggles < noise.flip_rate).reshape(mask[window].shape)).astype(np.uint8) * 255
            mask[window] = cv2.GaussianBlur(part, (5, 5), 2, sigmaY=2) > 127
        cls = plan.class_ids[index]
        noisy[mask & ~inside & allowed] = cls
        left = inside & ~mask
        if left.any():
            nearest = ndimage.distance_transform_edt(inside, return_distances=False, return_indices=True)
            noisy[left] = label_map[nearest[0][left], nearest[1][left]]
    return noisy


@pytest.mark.parametrize(
    "params",
    [
        dict(rate=0.3, steps=6),
        dict(rate=0.5, steps=10, grow_prob=0.8),
        dict(rate=0.2, steps=12, grow_prob=0.1, background_label=0),
        dict(rate=0.4, steps=3, flip_rate=0.2),
        dict(rate=1.0, steps=4, grow_prob=1.0),
    ],
)
def test_equals_the_plain_per_component_process(params):
    noise = BoundaryNoise(num_classes=6, seed=5, **params)
    for scene_seed, image_id in ((0, 0), (1, "frankfurt_000000_000294"), (2, 17)):
        label_map = scene(seed=scene_seed)
        np.testing.assert_array_equal(noise.apply(label_map, image_id), plain_reference(noise, label_map, image_id))


def test_deterministic_per_seed_and_image_and_different_otherwise():
    label_map = scene()
    noise = BoundaryNoise(0.2, 6, seed=1, steps=20)
    first = noise.apply(label_map, "a")
    np.testing.assert_array_equal(first, BoundaryNoise(0.2, 6, seed=1, steps=20).apply(label_map.copy(), "a"))
    assert not np.array_equal(first, noise.apply(label_map, "b"))
    assert not np.array_equal(first, BoundaryNoise(0.2, 6, seed=2, steps=20).apply(label_map, "a"))
    assert first.dtype == label_map.dtype and not np.shares_memory(first, label_map)


def taxicab_distance_to(label_map, where) -> np.ndarray:
    """Taxicab distance of every pixel to the nearest pixel where ``where`` holds."""
    return ndimage.distance_transform_cdt(~where, metric="taxicab")


@pytest.mark.parametrize("grow_prob", [0.0, 0.5, 1.0])
def test_changes_stay_within_steps_of_the_boundary_and_invent_no_class(grow_prob):
    steps = 8
    for image_id in range(6):
        label_map = scene(seed=image_id)
        noisy = BoundaryNoise(0.4, 6, seed=0, steps=steps, grow_prob=grow_prob).apply(label_map, image_id)
        changed = np.argwhere(noisy != label_map)
        assert changed.size
        for value in np.unique(noisy[noisy != label_map]).tolist():
            # the new label is found within `steps` pixels, and the old one was within `steps` of another label
            near_new = taxicab_distance_to(label_map, label_map == value)
            moved = noisy == value
            moved &= noisy != label_map
            assert near_new[moved].max() <= steps
        for old in np.unique(label_map[noisy != label_map]).tolist():
            near_other = taxicab_distance_to(label_map, label_map != old)
            assert near_other[(label_map == old) & (noisy != label_map)].max() <= steps


def test_ignore_pixels_stay_ignore():
    label_map = scene()
    label_map[:, 30:33] = IGNORE
    for grow_prob in (0.0, 1.0):
        noise = BoundaryNoise(1.0, 6, seed=0, steps=15, grow_prob=grow_prob)
        noisy = noise.apply(label_map, 0)
        assert (noisy[label_map == IGNORE] == IGNORE).all()
    with_toggles = BoundaryNoise(0.5, 6, steps=5, flip_rate=0.3).apply(label_map, 0)
    assert (with_toggles[label_map == IGNORE] == IGNORE).all()


def test_strength_zero_is_the_identity():
    label_map = scene().astype(np.int32)
    for noise in (BoundaryNoise(0.0, 6, steps=50), BoundaryNoise(0.5, 6, steps=0)):
        noisy = noise.apply(label_map, 1)
        assert noisy.dtype == np.int32
        np.testing.assert_array_equal(noisy, label_map)
    # a map with nothing but ignore and background has no component to move
    empty = np.full((16, 16), IGNORE, dtype=np.uint8)
    empty[4:8] = 0
    np.testing.assert_array_equal(BoundaryNoise(1.0, 3, background_label=0).apply(empty, 0), empty)


def test_first_step_moves_a_rate_fraction_of_the_ring_in_the_drawn_direction():
    """One step: a grown square gained exactly its flipped outer 4-ring pixels, a shrunk one lost inner ring pixels;
    over many squares the flipped fraction of the ring is ``rate`` and the grown fraction ``grow_prob``."""
    rate, grow_prob, size = 0.3, 0.7, 8
    label_map = squares(size=size)
    noise = BoundaryNoise(rate, 5, seed=4, steps=1, grow_prob=grow_prob, background_label=0)
    flipped = ring = grown = total = 0
    for image_id in range(12):
        noisy = noise.apply(label_map, image_id)
        labels, count = ndimage.label(label_map > 0)
        for index in range(1, count + 1):
            square = labels == index
            outer = ndimage.binary_dilation(square) & ~square  # 4-connected ring: 4 * size pixels
            gained = int((noisy[outer] != 0).sum())
            lost = int((noisy[square] == 0).sum())
            assert gained == 0 or lost == 0  # one direction per step
            if gained:
                grown += 1
                flipped, ring = flipped + gained, ring + 4 * size
            else:
                flipped, ring = flipped + lost, ring + 4 * size - 4
            total += 1
    assert abs(flipped / ring - rate) < 4 * np.sqrt(rate * (1 - rate) / ring)
    assert abs(grown / total - grow_prob) < 4 * np.sqrt(grow_prob * (1 - grow_prob) / total)


@pytest.mark.parametrize("rate, steps", [(0.05, 100), (0.2, 20), (0.5, 10)])
def test_mean_displacement_of_a_straight_edge_is_between_rate_times_steps_and_twice_that(rate, steps):
    """rate * steps is a lower bound in expectation (each column's pixel above the edge is always in the ring);
    the rough front grows faster, measured at 1.2-1.6x: the bracket is [1, 2] x rate * steps."""
    label_map = np.zeros((160, 120), dtype=np.uint8)
    label_map[80:] = 1
    width = label_map.shape[1]
    for grow_prob, sign in ((1.0, 1), (0.0, -1)):
        noise = BoundaryNoise(rate, 2, seed=0, steps=steps, grow_prob=grow_prob, background_label=0)
        shifts = [sign * (int((noise.apply(label_map, k) == 1).sum()) - 80 * width) / width for k in range(8)]
        assert rate * steps * 0.95 < np.mean(shifts) < 2 * rate * steps
    unbiased = BoundaryNoise(rate, 2, seed=0, steps=steps, grow_prob=0.5, background_label=0)
    shifts = [(int((unbiased.apply(label_map, k) == 1).sum()) - 80 * width) / width for k in range(16)]
    assert abs(np.mean(shifts)) < 0.5 * rate * steps  # no drift on average; spread ~ sqrt(steps) per image


def test_toggles_are_mostly_smoothed_away():
    """flip_rate (theta3) toggles pixels i.i.d.; the reference's 5 x 5 Gaussian smoothing removes nearly all of
    them, so what changes stays near the boundary."""
    label_map = squares(rows=3, cols=3, size=16, gap=24)
    noisy = BoundaryNoise(0.0, 5, steps=4, flip_rate=0.2, background_label=0).apply(label_map, 0)
    changed = noisy != label_map
    assert changed.any()
    far = taxicab_distance_to(label_map, label_map != 0) + taxicab_distance_to(label_map, label_map == 0) > 4 + 3
    assert changed[far].mean() < 0.005  # measured 0.001, against 0.2 toggled


def test_short_names_and_specs():
    assert named_noise_spec("boundary5") == {"type": "markov_boundary", "rate": 0.05, "seed": 0}
    assert named_noise_spec("boundarygrow5_s1") == {
        "type": "markov_boundary",
        "grow_prob": 0.8,
        "rate": 0.05,
        "seed": 1,
    }
    assert named_noise_spec("boundaryshrink2")["grow_prob"] == 0.2
    noise = build_semantic_noise("boundarygrow5_s1", 19)
    assert isinstance(noise, BoundaryNoise)
    assert (noise.rate, noise.seed, noise.steps, noise.grow_prob, noise.flip_rate) == (0.05, 1, 100, 0.8, 0.0)
    spec = {"type": "markov_boundary", "rate": 0.05, "steps": 180, "grow_prob": 0.8, "flip_rate": 0.2}  # paper's J1
    assert build_semantic_noise(spec, 3).steps == 180
    with pytest.raises(ValueError, match="is for semantic label maps.*maskboundary5") as err:
        build_noise("boundary5", 8)  # the instance form has its own names, and the message gives them
    assert "mask_boundary" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: BoundaryNoise(1.5, 5), "rate must be in"),
        (lambda: BoundaryNoise(0.1, 5, steps=-1), "steps must be a non-negative int"),
        (lambda: BoundaryNoise(0.1, 5, steps=2.5), "steps must be a non-negative int"),
        (lambda: BoundaryNoise(0.1, 5, grow_prob=1.2), "grow_prob must be in"),
        (lambda: BoundaryNoise(0.1, 5, flip_rate=-0.1), "flip_rate must be in"),
        (lambda: BoundaryNoise(0.1, 5, seed=-1), "seed"),
        (lambda: BoundaryNoise(0.1, 5, ignore_label=3), "collides"),
        (lambda: BoundaryNoise(0.1, 5, background_label=9), "background_label"),
        (lambda: build_semantic_noise({"type": "markov_boundary", "rate": 0.1, "kernel": 3}, 5), "unknown key"),
        (lambda: BoundaryNoise(0.1, 5).apply(np.full((4, 4), 7, np.uint8), 0), "neither a class"),
        (lambda: BoundaryNoise(0.1, 5).apply(np.zeros((4, 4), np.float32), 0), "integer"),
    ],
)
def test_bad_parameters_raise_one_line(call, message):
    with pytest.raises(ValueError, match=message) as err:
        call()
    assert "\n" not in str(err.value)


def authors_generator(mask, steps, theta1, theta2, theta3, rng):
    """github.com/michaelofsbu/SpatialCorrection, noise_generator.py, _MarkovNoise_random on one binary mask
    (its per-pixel loops as array operations, numpy's Generator for its global RNG): the reference of the module
    docstring."""
    noise = mask.astype(np.float64)
    directions = rng.random(steps)
    for step in range(steps):
        if directions[step] < theta1:
            edge = ndimage.distance_transform_edt(1 - noise) == 1
        else:
            edge = ndimage.distance_transform_edt(noise) == 1
        flip = edge & (rng.random(noise.shape) < theta2)
        noise[flip] = 1 - noise[flip]
    noise = np.where(rng.random(noise.shape) > theta3, noise, 1 - noise)
    noise = cv2.GaussianBlur((noise * 255).astype(np.uint8), (5, 5), 2, 2)
    return noise / 255 > 0.5


def blobs(count=8, size=96):
    """Single-object binary masks: discs and rotated ellipses, 300-800 px, centred with room for the walk."""
    rng = np.random.default_rng(3)
    for _ in range(count):
        mask = np.zeros((size, size), dtype=np.uint8)
        axes = tuple(int(a) for a in rng.integers(8, 17, size=2))
        cv2.ellipse(mask, (size // 2, size // 2), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        yield mask


def changed_and_fragments(clean, noisy):
    pieces = ndimage.label(noisy, structure=np.ones((3, 3)))[1]
    holes = ndimage.label(~noisy)[1] - 1
    return int((clean != noisy).sum()), pieces + holes


def test_flip_rate_1e_9_is_the_authors_setting_and_boundary5_is_not():
    """The probe of the module docstring: per object, pixels changed and fragments (pieces + holes) left by the
    boundary5 preset (flip_rate 0: no smoothing), by flip_rate=1e-9, and by the authors' generator at theta3 = 0."""
    rng = np.random.default_rng(0)
    results = {"preset": [], "1e-9": [], "authors": []}
    for index, mask in enumerate(blobs()):
        for name, flip_rate in (("preset", 0.0), ("1e-9", 1e-9)):
            noise = BoundaryNoise(0.05, 2, seed=0, steps=100, flip_rate=flip_rate, background_label=0)
            results[name].append(changed_and_fragments(mask == 1, noise.apply(mask, index) == 1))
        results["authors"].append(changed_and_fragments(mask == 1, authors_generator(mask, 100, 0.5, 0.05, 0.0, rng)))
    changed, fragments = ({name: np.mean([r[i] for r in rows]) for name, rows in results.items()} for i in (0, 1))
    assert named_noise_spec("boundary5").get("flip_rate", 0.0) == 0.0
    assert changed["preset"] > 1.4 * changed["authors"]  # measured 1.8x on the toy objects
    assert 0.7 < changed["1e-9"] / changed["authors"] < 1.4
    assert fragments["authors"] < 4 and fragments["1e-9"] < 4  # 1-2 pieces, no pinholes
    assert fragments["preset"] > 5 * fragments["authors"]  # specks and pinholes the smoothing would remove
