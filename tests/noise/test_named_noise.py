"""Short noise names resolve to the published conventions, and the realized rates are the published ones."""

import numpy as np
import pytest

from noisy_seg.noise import build_noise
from noisy_seg.noise.registry import named_noise_spec
from noisy_seg.noise.presets import spatial_preset

N = 40_000


def _flip_rate(name: str, num_classes: int) -> float:
    pipeline = build_noise(named_noise_spec(name), num_classes)
    labels = np.arange(N) % num_classes
    noisy = pipeline.class_noise.apply(labels, np.arange(N) // 4, np.arange(N))
    return float((noisy != labels).mean())


def _within_binomial(observed: float, expected: float) -> bool:
    return abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / N)


@pytest.mark.parametrize("num_classes", [8, 80])
def test_sym_flips_exactly_the_rate_and_symmix_redraws_over_all_classes(num_classes):
    assert _within_binomial(_flip_rate("sym40", num_classes), 0.4)
    # Yang et al.'s "Sym 40" (and COCO-N's uniform_mix_C): the redraw may return the true class
    assert _within_binomial(_flip_rate("symmix40", num_classes), 0.4 * (num_classes - 1) / num_classes)


@pytest.mark.parametrize("level", ["easy", "medium", "hard"])
@pytest.mark.parametrize("num_classes", [8, 80])
def test_coco_n_class_noise_flips_r_times_k_minus_1_over_k(level, num_classes):
    r = spatial_preset(level).class_noise_rate
    assert r == {"easy": 0.2, "medium": 0.3, "hard": 0.4}[level]
    assert _within_binomial(_flip_rate(f"coco_n_{level}", num_classes), r * (num_classes - 1) / num_classes)


def test_names_resolve_to_specs():
    assert named_noise_spec("clean") is None
    assert named_noise_spec("sym40") == {"type": "symmetric", "rate": 0.4, "seed": 0}
    assert named_noise_spec("symmix20_s3") == {"type": "symmetric", "rate": 0.2, "seed": 3, "include_true": True}
    assert named_noise_spec("asym40_coco_s1") == {"type": "asymmetric", "rate": 0.4, "preset": "coco", "seed": 1}
    assert named_noise_spec("coco_n_hard") == {"type": "spatial", "preset": "hard", "seed": 0}
    assert named_noise_spec("drop30") == {"type": "drop", "rate": 0.3, "seed": 0}


@pytest.mark.parametrize("name", ["sym150", "symmix", "sym-10", "coco_n_extreme", "Sym40", "", "sym40_s"])
def test_bad_names_are_one_clear_error(name):
    with pytest.raises(ValueError, match="noise name"):
        named_noise_spec(name)
