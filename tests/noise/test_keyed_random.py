import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisy_seg.noise.keyed_random import (
    image_key,
    image_keys,
    keyed_standard_normal,
    keyed_uniform,
    keyed_uniform_at,
)


def test_uniform_is_a_pure_function_of_its_keys():
    images, anns = np.arange(1000) // 7, np.arange(1000)
    first = keyed_uniform(3, images, anns, "flip")
    order = np.random.default_rng(0).permutation(1000)
    shuffled = keyed_uniform(3, images[order], anns[order], "flip")
    np.testing.assert_array_equal(first[order], shuffled)
    one_by_one = np.array([keyed_uniform(3, int(i), int(a), "flip")[0] for i, a in zip(images[:50], anns[:50])])
    np.testing.assert_array_equal(first[:50], one_by_one)


def test_seed_stream_and_keys_all_change_the_draws():
    anns = np.arange(2000)
    base = keyed_uniform(0, 5, anns, "a")
    for other in (
        keyed_uniform(1, 5, anns, "a"),
        keyed_uniform(0, 6, anns, "a"),
        keyed_uniform(0, 5, anns, "b"),
        keyed_uniform(0, 5, anns + 1, "a"),
    ):
        assert np.mean(base == other) < 0.01
        assert abs(np.corrcoef(base, other)[0, 1]) < 0.1


def test_uniform_range_and_moments():
    u = keyed_uniform(0, np.arange(200_000) // 10, np.arange(200_000), 7)
    assert u.dtype == np.float64 and u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / u.size)
    counts = np.bincount((u * 20).astype(int), minlength=20)
    expected = u.size / 20
    assert ((counts - expected) ** 2 / expected).sum() < 60  # chi2(19) 99.99% ~ 50


def test_draws_are_prefix_stable_and_match_explicit_indices():
    anns = np.arange(40)
    wide = keyed_uniform(9, 2, anns, "j", draws=8)
    assert wide.shape == (40, 8)
    np.testing.assert_array_equal(wide[:, :3], keyed_uniform(9, 2, anns, "j", draws=3))
    np.testing.assert_array_equal(wide[:, 0], keyed_uniform(9, 2, anns, "j"))
    np.testing.assert_array_equal(wide[5], keyed_uniform_at(9, 2, 5, "j", np.arange(8)))
    assert np.unique(wide).size == wide.size


def test_standard_normal_moments_and_finiteness():
    z = keyed_standard_normal(0, 1, 2, "jitter", np.arange(100_000))
    assert np.isfinite(z).all()
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02


def test_string_image_ids_hash_stably_with_blake2b():
    name = "frankfurt_000000_000294"
    expected = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little", signed=True)
    assert image_key(name) == expected
    assert image_key(42) == 42
    keys = image_keys([name, 42, name])
    assert keys.dtype == np.int64 and keys.tolist() == [expected, 42, expected]
    np.testing.assert_array_equal(keyed_uniform(0, name, [0, 1], "s"), keyed_uniform(0, expected, [0, 1], "s"))


def test_empty_keys_give_empty_draws():
    assert keyed_uniform(0, np.zeros(0, np.int64), np.zeros(0, np.int64), "x").shape == (0,)
    assert keyed_uniform(0, 3, np.zeros(0, np.int64), "x", draws=4).shape == (0, 4)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: keyed_uniform(0, 0, 0, 1.5), "stream"),
        (lambda: keyed_uniform(0, [1, 2, 3], [1, 2], "s"), "entries"),
        (lambda: keyed_uniform(0, 0.5, 0, "s"), "image id"),
        (lambda: image_key(2**70), "int64"),
    ],
)
def test_invalid_inputs_raise_one_line_value_errors(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**64 - 1),
    image=st.integers(-(2**63), 2**63 - 1),
    ann=st.integers(-(2**63), 2**63 - 1),
)
def test_any_64_bit_key_gives_a_unit_interval_draw(seed, image, ann):
    u = keyed_uniform(seed, image, ann, "s", draws=3)
    assert u.shape == (1, 3) and ((u >= 0) & (u < 1)).all()


def test_small_scalar_path_is_bit_identical_to_the_array_path():
    # keyed_uniform answers one image's few annotations with Python ints; it must equal the numpy path
    from noisy_seg.noise import keyed_random as kr

    rng = np.random.default_rng(0)
    for trial in range(100):
        n = int(rng.integers(1, kr._SMALL + 1))
        anns = rng.integers(-(2**63), 2**63 - 1, size=n, dtype=np.int64)
        image = [int(rng.integers(-(2**63), 2**63 - 1)), "frankfurt_000000_000294"][trial % 2]
        stream = ["class_flip", 3][trial % 2]
        fast = kr.keyed_uniform(7, image, anns, stream)
        state = kr._key_state(7, image, anns, stream)
        slow = kr._to_unit(kr._absorb(state, np.zeros(n, dtype=np.uint64), 5))
        assert np.array_equal(fast, slow)
