import numpy as np
import pytest

from noisy_seg.noise.instance_dependent import InstanceDependentNoise, instance_features, normalize_features
from noisy_seg.noise.transition import realized_transition_matrix

K = 10
SIZE = (8, 8)


@pytest.fixture(scope="module")
def instances():
    """Random images cropped into 6000 instances: labels, keys and unit-norm features."""
    rng = np.random.default_rng(0)
    n = 6000
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    corners = rng.uniform(0, 100, (n, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(3, 60, (n, 2))], axis=1)
    features = instance_features(image, boxes, SIZE)
    return rng.integers(0, K, n), np.arange(n) // 6, np.arange(n), features


def test_instance_features_are_centred_unit_vectors_of_the_crop():
    image = np.zeros((50, 60, 3), dtype=np.uint8)
    image[10:20, 10:30] = (0, 0, 255)
    image[10:20, 30:40] = (255, 255, 255)
    features = instance_features(image, [[10, 10, 40, 20], [0, 0, 60, 50], [55, 45, 90, 90]], SIZE)
    assert features.shape == (3, 8 * 8 * 3) and features.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(features[:2], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(features[:2].mean(axis=1), 0.0, atol=1e-6)
    assert not np.allclose(features[0], features[1])
    # a box partly outside the image is clipped, not rejected; a constant crop has no direction
    np.testing.assert_array_equal(features[2], 0.0)


def test_idn_realized_rate_matches_truncated_normal_mean(instances):
    labels, images, anns, features = instances
    noise = InstanceDependentNoise(0.4, K, seed=1, feature_size=SIZE)
    noisy = noise.apply(labels, images, anns, features)
    rate = (noisy != labels).mean()
    assert abs(rate - noise._mean_rate()) < 4 * np.sqrt(0.24 / labels.size)
    q = noise.instance_rates(images, anns)
    assert 0.38 < q.mean() < 0.42 and 0.08 < q.std() < 0.11 and q.min() >= 0 and q.max() <= 1


def test_idn_spreads_flips_over_several_classes(instances):
    labels, images, anns, features = instances
    noisy = InstanceDependentNoise(0.5, K, seed=2, feature_size=SIZE).apply(labels, images, anns, features)
    realized = realized_transition_matrix(labels, noisy, K)
    off_diagonal = realized * (1 - np.eye(K))
    for cls in range(K):
        row = off_diagonal[cls] / off_diagonal[cls].sum()
        assert (row > 0.03).sum() >= 4, f"class {cls} flips to few classes: {np.round(row, 2)}"
        assert row.max() < 0.6


def test_idn_flips_depend_on_the_instance(instances):
    labels, images, anns, features = instances
    noise = InstanceDependentNoise(1.0, K, seed=3, std=0.0, feature_size=SIZE)
    probabilities = noise.target_probabilities(labels[:200], features[:200])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert (probabilities[np.arange(200), labels[:200]] == 0).all()
    same_class = labels[:200] == labels[0]
    assert np.abs(probabilities[same_class] - probabilities[same_class][0]).max() > 0.05


def test_idn_is_batch_and_order_invariant(instances):
    labels, images, anns, features = instances
    noise = InstanceDependentNoise(0.45, K, seed=4, feature_size=SIZE)
    at_once = noise.apply(labels, images, anns, features)
    per_image = np.empty_like(at_once)
    for image in np.random.default_rng(1).permutation(np.unique(images)).tolist():
        members = np.flatnonzero(images == image)
        per_image[members] = noise.apply(labels[members], image, anns[members], features[members])
    np.testing.assert_array_equal(at_once, per_image)


def test_idn_nested_across_rates_and_rate_zero_is_clean(instances):
    labels, images, anns, features = instances
    make = lambda rate: InstanceDependentNoise(rate, K, seed=5, feature_size=SIZE)  # noqa: E731
    np.testing.assert_array_equal(make(0.0).apply(labels, images, anns, features), labels)
    low, high = (make(r).apply(labels, images, anns, features) for r in (0.2, 0.5))
    flipped = low != labels
    assert flipped.any() and (high[flipped] == low[flipped]).all()


def test_idn_expected_matrix_needs_instances_and_matches_realized(instances):
    labels, images, anns, features = instances
    noise = InstanceDependentNoise(0.4, K, seed=6, feature_size=SIZE)
    with pytest.raises(NotImplementedError, match="closed-form"):
        noise.expected_transition_matrix()
    expected = noise.expected_transition_matrix(K, labels=labels, features=features)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0)
    realized = realized_transition_matrix(labels, noise.apply(labels, images, anns, features), K)
    assert np.abs(realized - expected).max() < 0.06


def test_same_seed_same_weights_and_raw_features_are_normalized(instances):
    labels, images, anns, features = instances
    a = InstanceDependentNoise(0.4, K, seed=7, feature_size=SIZE)
    b = InstanceDependentNoise(0.4, K, seed=7, feature_size=SIZE)
    np.testing.assert_array_equal(a.weights, b.weights)
    scaled = features * 250.0 + 3.0  # raw-pixel-like scale gives the same noise: rows are renormalized
    np.testing.assert_array_equal(a.apply(labels, images, anns, features), a.apply(labels, images, anns, scaled))
    np.testing.assert_allclose(normalize_features(scaled), features, atol=1e-5)


def test_rate_is_the_mean_before_truncation_not_the_mean_flip_rate(instances):
    """The docstring's wording: at rate 0.05 (std 0.1) the truncated normal's mean, the realized flip rate, is 0.10."""
    labels, images, anns, features = instances
    noise = InstanceDependentNoise(0.05, K, seed=1, feature_size=SIZE)
    assert abs(noise._mean_rate() - 0.1009) < 1e-3
    realized = (noise.apply(labels, images, anns, features) != labels).mean()
    assert abs(realized - noise._mean_rate()) < 4 * np.sqrt(0.09 / labels.size) and realized > 0.08


def xia_target_probabilities(noise, labels, raw_pixels):
    """softmax(A) of Xia et al.'s get_instance_noisy_label (github.com/xiaoboxia/Part-dependent-label-noise,
    tools.py) on its input, the raw 0-255 pixels as floats: A = x W[y], A[y] = -inf."""
    rows = []
    for label, x in zip(labels.tolist(), raw_pixels):
        scores = x @ noise.weights[label].astype(np.float64)
        scores[label] = -np.inf
        exp = np.exp(scores - scores.max())
        rows.append(exp / exp.sum())
    return np.array(rows)


def test_xias_raw_pixels_give_one_target_per_instance_where_unit_norm_spreads_the_flips():
    """The module docstring's difference, on synthetic crops (a brightness per crop plus texture): with the same W,
    Xia's target distributions are one-hot and a class's instances mostly share one target; ours spread."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, K, 300)
    raw = np.clip(rng.uniform(40, 200, (300, 1)) + rng.normal(0, 40, (300, 32 * 32 * 3)), 0, 255).round()
    noise = InstanceDependentNoise(0.4, K, seed=0)
    ours, xia = noise.target_probabilities(labels, raw), xia_target_probabilities(noise, labels, raw)
    assert xia.max(axis=1).min() > 0.99 and ours.max(axis=1).mean() < 0.5  # measured 1.0 and 0.33
    assert np.abs(ours - xia).max(axis=1).mean() > 0.7  # measured 0.86

    def modal_target_share(probabilities):
        return np.mean(
            [np.bincount(probabilities[labels == c].argmax(axis=1)).max() / (labels == c).sum() for c in range(K)]
        )

    assert modal_target_share(xia) > 0.6 and modal_target_share(ours) < 0.35  # measured 0.83 and 0.21


def test_idn_validation():
    noise = InstanceDependentNoise(0.3, 3, feature_size=(2, 2))
    with pytest.raises(ValueError, match=r"features must be \(2, 12\)"):
        noise.apply([0, 1], 0, [0, 1], np.zeros((2, 5)))
    with pytest.raises(ValueError, match="feature_size"):
        InstanceDependentNoise(0.3, 3, feature_size=(0, 4))
    with pytest.raises(ValueError, match="std"):
        InstanceDependentNoise(0.3, 3, std=-1)
    with pytest.raises(ValueError, match="uint8"):
        instance_features(np.zeros((4, 4, 3), dtype=np.float32), [[0, 0, 2, 2]], (2, 2))
    assert noise.apply([], 0, [], np.zeros((0, 12))).shape == (0,)
