import numpy as np
import pytest

from noisy_seg.noise import build_semantic_noise, named_noise_spec
from noisy_seg.noise.semantic_noise import SEMANTIC_OPS, SemanticNoise

IGNORE = 255


def blocks_map(rows=6, cols=8, size=12, num_classes=5, seed=0):
    """A label map of separated square components (one per cell) on background 0, plus ignore."""
    rng = np.random.default_rng(seed)
    label_map = np.zeros((rows * size * 2, cols * size * 2), dtype=np.uint8)
    for r in range(rows):
        for c in range(cols):
            y, x = r * size * 2 + size // 2, c * size * 2 + size // 2
            label_map[y : y + size, x : x + size] = rng.integers(1, num_classes)
    label_map[:4, :] = IGNORE
    return label_map


def test_components_are_found_per_class_with_8_connectivity():
    label_map = np.zeros((10, 10), dtype=np.uint8)
    label_map[1, 1] = label_map[2, 2] = 1  # diagonal neighbours: one component
    label_map[5:7, 5:7] = 2
    label_map[5, 7] = 1  # touches class 2 but is its own class-1 component
    plan, components = SemanticNoise(0.0, 3, background_label=0).plan(label_map, 0)
    assert sorted(plan.class_ids.tolist()) == [1, 1, 2]
    assert components.max() == 3 and (components[label_map == 0] == 0).all()
    assert plan.keys.tolist() == sorted(plan.keys.tolist())  # class, then raster order
    assert (1 << 32) | 11 in plan.keys.tolist()  # first pixel of the diagonal pair: (1, 1) -> 11


def test_deterministic_and_independent_of_other_components():
    label_map = blocks_map()
    noise = SemanticNoise(0.5, 5, seed=3, background_label=0)
    first = noise.apply(label_map, "frankfurt_000000_000294")
    np.testing.assert_array_equal(first, noise.apply(label_map.copy(), "frankfurt_000000_000294"))
    assert not np.array_equal(first, noise.apply(label_map, "frankfurt_000000_000295"))
    # removing one component does not change what happens to the others
    plan, _ = noise.plan(label_map, 7)
    reduced = label_map.copy()
    x, y, w, h = plan.boxes[0].tolist()
    reduced[y : y + h, x : x + w] = 0
    reduced_plan, _ = noise.plan(reduced, 7)
    assert list(reduced_plan.ops) == list(plan.ops[1:])


def test_op_frequency_and_mix_follow_rate():
    label_map = blocks_map(rows=12, cols=16, size=6)
    noise = SemanticNoise(0.4, 5, seed=1, background_label=0)
    chosen = []
    for key in range(10):
        plan, _ = noise.plan(label_map, key)
        chosen.extend(op for op in plan.ops if op is not None)
        total = 10 * plan.keys.size
    assert abs(len(chosen) / total - 0.4) < 4 * np.sqrt(0.24 / total)
    counts = {op: chosen.count(op) for op in SEMANTIC_OPS}
    assert all(abs(c / len(chosen) - 0.2) < 0.05 for c in counts.values()), counts


def test_each_op_does_what_it_says():
    label_map = blocks_map()
    noise = SemanticNoise(1.0, 5, seed=2, background_label=0, kernel=3)
    plan, components = noise.plan(label_map, 11)
    noisy = noise.apply(label_map, 11)
    for index, op in enumerate(plan.ops):
        inside = components == index + 1
        x, y, w, h = plan.boxes[index].tolist()
        ring = np.zeros_like(inside)
        ring[max(0, y - 1) : y + h + 1, max(0, x - 1) : x + w + 1] = True
        ring &= ~inside
        cls = plan.class_ids[index]
        if op == "relabel":
            assert np.unique(noisy[inside]).tolist() == [plan.targets[index]]
            assert plan.targets[index] not in (cls, 0)
        elif op in ("background", "ignore"):
            assert (noisy[inside] == (0 if op == "background" else IGNORE)).all()
        elif op == "dilate":
            assert (noisy[ring] == cls).all() and (noisy[inside] == cls).all()
        else:  # erode: the outer 1-px layer takes the surrounding (background) label
            assert (noisy[inside].reshape(h, w)[1:-1, 1:-1] == cls).all()
            assert (noisy[inside].reshape(h, w)[0] == 0).all()


def test_ignore_pixels_are_never_components_and_never_overwritten():
    label_map = np.zeros((40, 40), dtype=np.uint8)
    label_map[10:30, 10:30] = 1
    label_map[10:30, 30:33] = IGNORE
    noise = SemanticNoise(1.0, 3, seed=0, ops=("dilate",), kernel=7)
    plan, _ = noise.plan(label_map, 0)
    assert plan.class_ids.tolist() == [0, 1]  # no background_label: class 0 is a class too
    noisy = noise.apply(label_map, 0)
    assert (noisy[label_map == IGNORE] == IGNORE).all()
    assert (noisy[10:30, 7:10] == 1).all()  # grew into class 0


def test_rate_zero_is_identity_and_dtype_is_kept():
    label_map = blocks_map().astype(np.int32)
    noisy = SemanticNoise(0.0, 5, seed=0).apply(label_map, 1)
    assert noisy.dtype == np.int32
    np.testing.assert_array_equal(noisy, label_map)
    empty = np.full((8, 8), IGNORE, dtype=np.uint8)
    np.testing.assert_array_equal(SemanticNoise(1.0, 5).apply(empty, 1), empty)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: SemanticNoise(1.5, 5), "rate"),
        (lambda: SemanticNoise(0.5, 5, ignore_label=3), "collides"),
        (lambda: SemanticNoise(0.5, 5, ops=("background",)), "background_label"),
        (lambda: SemanticNoise(0.5, 5, ops=("blur",)), "subset"),
        (lambda: SemanticNoise(0.5, 5).apply(np.full((4, 4), 7, np.uint8), 0), "neither a class"),
        (lambda: SemanticNoise(0.5, 5).apply(np.zeros((4, 4), np.float32), 0), "integer"),
    ],
)
def test_invalid_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "name, ops",
    [
        ("sem30_s2", ("relabel", "ignore", "dilate", "erode")),
        ("semrelabel30_s2", ("relabel",)),
        ("semignore30_s2", ("ignore",)),
        ("semdilate30_s2", ("dilate",)),
        ("semerode30_s2", ("erode",)),
    ],
)
def test_short_names_fix_the_ops(name, ops):
    spec = named_noise_spec(name)
    assert (spec["type"], spec["rate"], spec["seed"]) == ("semantic", 0.3, 2)
    noise = build_semantic_noise(name, 5)
    assert noise.ops == ops and (noise.rate, noise.seed) == (0.3, 2)
    plan, _ = build_semantic_noise(name.replace("30", "100"), 5).plan(blocks_map(), 0)
    assert set(plan.ops.tolist()) <= set(ops) and None not in plan.ops.tolist()


def test_one_op_names_do_that_op_to_every_component_at_100():
    label_map = blocks_map()
    np.testing.assert_array_equal(
        build_semantic_noise("semignore100", 5).apply(label_map, 0), np.full_like(label_map, IGNORE)
    )  # class 0 is a component too (no background)
    relabelled = build_semantic_noise("semrelabel100", 5).apply(label_map, 0)
    assert ((relabelled != label_map) | (label_map == IGNORE)).all()


def test_background_op_needs_the_datasets_background_label():
    assert named_noise_spec("sembg30") == {"type": "semantic", "ops": ("background",), "rate": 0.3, "seed": 0}
    with pytest.raises(ValueError, match="background_label"):
        build_semantic_noise("sembg30", 5)
    with pytest.raises(ValueError, match="unknown noise name 'sembackground30'"):
        named_noise_spec("sembackground30")
    noise = build_semantic_noise({"type": "semantic", "rate": 1.0, "ops": ["background"], "background_label": 0}, 5)
    noisy = noise.apply(blocks_map(), 0)
    assert set(np.unique(noisy).tolist()) == {0, IGNORE}
