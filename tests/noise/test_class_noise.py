import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisy_seg.noise.class_noise import (
    AsymmetricNoise,
    PairFlipNoise,
    SymmetricNoise,
    TransitionMatrixNoise,
)
from noisy_seg.noise.instance_dependent import InstanceDependentNoise
from noisy_seg.noise.presets import COCO_THING_CATEGORIES, COCO_THING_CLASSES, VOC_CLASSES
from noisy_seg.noise.registry import build_noise
from noisy_seg.noise.transition import realized_transition_matrix

N = 20_000


def dataset(num_classes, n=N, seed=0):
    """Labels plus image/annotation keys shaped like a detection dataset (~7 anns per image)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, n)
    return labels, np.sort(rng.integers(0, n // 7, n)), np.arange(n) + 10_000


def within_binomial(observed_fraction, p, n, sigmas=4.0):
    return abs(observed_fraction - p) <= sigmas * np.sqrt(max(p * (1 - p), 1e-12) / n) + 1e-12


@pytest.mark.parametrize("rate", [0.2, 0.4, 0.8])
def test_symmetric_realized_rate_is_the_rate_and_every_class_is_reachable(rate):
    labels, images, anns = dataset(91)
    noisy = SymmetricNoise(rate, 91, seed=1).apply(labels, images, anns)
    changed = noisy != labels
    assert within_binomial(changed.mean(), rate, N)
    assert set(noisy[changed].tolist()) == set(range(91))  # incl. the last class (seed bug not copied)


def test_symmetric_include_true_is_the_papers_sym_r_with_every_class_a_target():
    """r (K - 1) / K flip, as Yang et al.'s scripts and COCO-N's uniform_mix_C; unlike their randint, the last
    class (index 7 of 8: Cityscapes' bicycle) is drawn too (the docstring of SymmetricNoise)."""
    labels, images, anns = dataset(8)
    noisy = SymmetricNoise(0.4, 8, seed=2, include_true=True).apply(labels, images, anns)
    assert within_binomial((noisy != labels).mean(), 0.4 * 7 / 8, N)
    assert set(noisy[noisy != labels].tolist()) == set(range(8))  # every class a target, the last one included


def test_symmetric_targets_are_uniform_over_other_classes():
    labels, images, anns = dataset(5, n=40_000)
    noisy = SymmetricNoise(1.0, 5, seed=3).apply(labels, images, anns)
    realized = realized_transition_matrix(labels, noisy, 5)
    np.testing.assert_allclose(realized, (1 - np.eye(5)) / 4, atol=0.03)


def test_cityscapes_preset_swaps_pairs_and_never_touches_car_and_train():
    labels, images, anns = dataset(8)
    noise = AsymmetricNoise(0.4, 8, seed=0, preset="cityscapes")
    noisy = noise.apply(labels, images, anns)
    pairs = {0: 1, 1: 0, 3: 4, 4: 3, 6: 7, 7: 6}
    changed = noisy != labels
    assert all(pairs[c] == n for c, n in zip(labels[changed].tolist(), noisy[changed].tolist()))
    assert not changed[np.isin(labels, [2, 5])].any()
    flippable = np.isin(labels, list(pairs))
    assert within_binomial(changed[flippable].mean(), 0.4, flippable.sum())


def test_voc_preset_pairs_are_one_way_or_both_ways_as_specified():
    index = {name: i for i, name in enumerate(VOC_CLASSES)}
    labels, images, anns = dataset(20)
    noisy = AsymmetricNoise(1.0, 20, seed=0, preset="voc").apply(labels, images, anns)
    expected = dict(zip(range(20), range(20)))
    for src, dst in [
        ("bird", "aeroplane"),
        ("diningtable", "chair"),
        ("bus", "car"),
        ("sheep", "horse"),
        ("bicycle", "motorbike"),
        ("motorbike", "bicycle"),
        ("cat", "dog"),
        ("dog", "cat"),
    ]:
        expected[index[src]] = index[dst]
    np.testing.assert_array_equal(noisy, [expected[c] for c in labels.tolist()])
    # one way: aeroplane, chair, car, horse stay what they are
    for name in ("aeroplane", "chair", "car", "horse"):
        assert (noisy[labels == index[name]] == index[name]).all()


def test_coco_preset_stays_in_supercategory_reaches_every_member_and_keeps_person():
    supercategory = np.array([sup for _, _, sup in COCO_THING_CATEGORIES])
    labels, images, anns = dataset(80, n=60_000)
    noisy = AsymmetricNoise(1.0, 80, seed=4, preset="coco").apply(labels, images, anns)
    person = COCO_THING_CLASSES.index("person")
    assert (noisy[labels == person] == person).all()
    others = labels != person
    assert (noisy[others] != labels[others]).all()
    assert (supercategory[noisy] == supercategory[labels]).all()
    for cls in range(80):
        if cls == person:
            continue
        members = set(np.flatnonzero(supercategory == supercategory[cls]).tolist()) - {cls}
        assert set(noisy[labels == cls].tolist()) == members, COCO_THING_CLASSES[cls]


def test_user_mapping_with_lists_and_matrix():
    labels, images, anns = dataset(4)
    noisy = AsymmetricNoise(1.0, 4, seed=0, mapping={0: [1, 2], 3: 0}).apply(labels, images, anns)
    assert set(noisy[labels == 0].tolist()) == {1, 2}
    assert (noisy[labels == 3] == 0).all() and (noisy[labels == 1] == 1).all()
    matrix = np.eye(4)
    matrix[2] = [0.0, 0.0, 0.0, 1.0]
    noisy = AsymmetricNoise(0.5, 4, seed=0, mapping=matrix).apply(labels, images, anns)
    assert set(np.unique(noisy[labels == 2]).tolist()) == {2, 3}
    assert (noisy[labels != 2] == labels[labels != 2]).all()


def test_pair_flip_goes_to_the_next_class():
    labels, images, anns = dataset(6)
    noisy = PairFlipNoise(0.3, 6, seed=5).apply(labels, images, anns)
    changed = noisy != labels
    np.testing.assert_array_equal(noisy[changed], (labels[changed] + 1) % 6)
    assert within_binomial(changed.mean(), 0.3, N)


@pytest.mark.parametrize(
    "noise",
    [
        SymmetricNoise(0.45, 6, seed=1),
        SymmetricNoise(0.45, 6, seed=1, include_true=True),
        PairFlipNoise(0.3, 6, seed=1),
        AsymmetricNoise(0.4, 8, seed=1, preset="cityscapes"),
        TransitionMatrixNoise(np.array([[0.5, 0.3, 0.2], [0.1, 0.9, 0.0], [0.0, 0.25, 0.75]]), seed=1),
    ],
    ids=["symmetric", "symmetric_include_true", "pair_flip", "asymmetric", "matrix"],
)
def test_realized_transition_matrix_matches_expected(noise):
    k = noise.num_classes
    labels, images, anns = dataset(k, n=30_000)
    expected = noise.expected_transition_matrix(k)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0)
    realized = realized_transition_matrix(labels, noise.apply(labels, images, anns), k)
    per_class = np.bincount(labels, minlength=k)[:, None]
    tolerance = 4 * np.sqrt(expected * (1 - expected) / per_class) + 1e-9
    assert (np.abs(realized - expected) <= tolerance).all()


def test_same_labels_whether_applied_at_once_or_per_image_in_shuffled_order():
    labels, images, anns = dataset(10, n=5000)
    noise = AsymmetricNoise(0.5, 10, seed=7, mapping={0: [1, 2, 3], 4: 5, 9: [0, 8]})
    for model in (noise, SymmetricNoise(0.5, 10, seed=7), TransitionMatrixNoise(noise.expected_transition_matrix(), 7)):
        at_once = model.apply(labels, images, anns)
        per_image = np.empty_like(at_once)
        unique_images = np.unique(images)
        for image in np.random.default_rng(0).permutation(unique_images).tolist():
            members = np.flatnonzero(images == image)[::-1]  # also reverse order within the image
            per_image[members] = model.apply(labels[members], image, anns[members])
        np.testing.assert_array_equal(at_once, per_image)


def test_flips_are_nested_across_rates_with_the_same_targets():
    labels, images, anns = dataset(12)
    for make in (
        lambda r: SymmetricNoise(r, 12, seed=3),
        lambda r: PairFlipNoise(r, 12, seed=3),
        lambda r: AsymmetricNoise(r, 12, seed=3, mapping={i: [(i + 3) % 12, (i + 5) % 12] for i in range(12)}),
    ):
        low, high = make(0.2).apply(labels, images, anns), make(0.4).apply(labels, images, anns)
        flipped_low = low != labels
        assert flipped_low.sum() > 0.15 * N
        assert (high[flipped_low] == low[flipped_low]).all()
        assert (high != labels).sum() > flipped_low.sum()


def test_flip_mask_marks_exactly_the_changed_labels_for_symmetric_noise():
    labels, images, anns = dataset(9, n=3000)
    noise = SymmetricNoise(0.3, 9, seed=8)
    np.testing.assert_array_equal(noise.flip_mask(labels, images, anns), noise.apply(labels, images, anns) != labels)


def test_transition_matrix_flips_nest_when_off_diagonal_mass_scales():
    labels, images, anns = dataset(3)
    flips = np.array([[0.0, 0.6, 0.4], [0.5, 0.0, 0.5], [1.0, 0.0, 0.0]])
    low = TransitionMatrixNoise(0.8 * np.eye(3) + 0.2 * flips, seed=9).apply(labels, images, anns)
    high = TransitionMatrixNoise(0.5 * np.eye(3) + 0.5 * flips, seed=9).apply(labels, images, anns)
    moved = low != labels
    assert (high[moved] == low[moved]).all()


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.integers(0, 6), max_size=60),
    seed=st.integers(0, 2**32),
    include_true=st.booleans(),
)
def test_rate_zero_is_identity_and_rate_one_always_flips(labels, seed, include_true):
    labels = np.asarray(labels, dtype=np.int64)
    anns = np.arange(labels.size)
    for model in (
        SymmetricNoise(0.0, 7, seed, include_true),
        PairFlipNoise(0.0, 7, seed),
        AsymmetricNoise(0.0, 7, seed, mapping={0: 1}),
    ):
        np.testing.assert_array_equal(model.apply(labels, 0, anns), labels)
    assert (SymmetricNoise(1.0, 7, seed).apply(labels, 0, anns) != labels).all()
    np.testing.assert_array_equal(PairFlipNoise(1.0, 7, seed).apply(labels, 0, anns), (labels + 1) % 7)
    out = SymmetricNoise(1.0, 7, seed, include_true).apply(labels, 0, anns)
    assert out.dtype == np.int64 and out.shape == labels.shape and ((out >= 0) & (out < 7)).all()


def test_class_noise_on_a_single_class_is_refused_not_silently_empty():
    """The probe: rate 1.0 on a one-class set realized nothing without a word."""
    labels = np.zeros(100, dtype=np.int64)
    models = (
        lambda rate: SymmetricNoise(rate, 1),
        lambda rate: SymmetricNoise(rate, 1, include_true=True),
        lambda rate: PairFlipNoise(rate, 1),
        lambda rate: InstanceDependentNoise(rate, 1),
    )
    for build in models:
        with pytest.raises(ValueError, match="cannot change any label: the dataset has 1 class") as info:
            build(1.0)
        assert "\n" not in str(info.value)
    for build in models[:3]:  # rate 0 asks for nothing: built, and changes nothing
        np.testing.assert_array_equal(build(0.0).apply(labels, 0, np.arange(100)), labels)
    np.testing.assert_array_equal(TransitionMatrixNoise([[1.0]]).expected_transition_matrix(), [[1.0]])
    spatial_only = build_noise("coco_n_medium", 1)  # its uniform mix over one class changes nothing: left out
    assert spatial_only.class_noise is None and spatial_only.spatial_noise is not None


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: SymmetricNoise(1.5, 5), r"rate must be in \[0, 1\]"),
        (lambda: SymmetricNoise(-0.1, 5), "rate"),
        (lambda: SymmetricNoise(float("nan"), 5), "rate"),
        (lambda: SymmetricNoise(0.2, 0), "num_classes"),
        (lambda: AsymmetricNoise(0.2, 8, preset="kitti"), "unknown asymmetric preset"),
        (lambda: AsymmetricNoise(0.2, 10, preset="cityscapes"), "8 classes"),
        (lambda: AsymmetricNoise(0.2, 4, mapping={0: 4}), "outside"),
        (lambda: AsymmetricNoise(0.2, 4, mapping={-1: 2}), "outside"),
        (lambda: AsymmetricNoise(0.2, 4, mapping={1: 1}), "itself"),
        (lambda: AsymmetricNoise(0.2, 4), "exactly one"),
        (lambda: TransitionMatrixNoise([[0.5, 0.4], [0.0, 1.0]]), "sums to"),
        (lambda: TransitionMatrixNoise([[1.5, -0.5], [0.0, 1.0]]), "negative"),
        (lambda: TransitionMatrixNoise([[1.0, 0.0]]), "square"),
    ],
)
def test_invalid_construction_raises_one_line_value_error(build, message):
    with pytest.raises(ValueError, match=message) as info:
        build()
    assert "\n" not in str(info.value)


def test_invalid_apply_inputs():
    noise = SymmetricNoise(0.3, 5)
    with pytest.raises(ValueError, match="built for 5 classes"):
        noise.expected_transition_matrix(6)
