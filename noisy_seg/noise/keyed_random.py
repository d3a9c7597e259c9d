"""Counter-based keyed randomness: every random number is a pure function of its key.

A draw is ``hash(seed, stream, image_key, ann_key, draw_index)`` mixed with the splitmix64
finalizer, so the same annotation gets the same noise in every epoch, DataLoader worker, process
and rank, and whether it is noised alone (on-the-fly mapper, one image) or together with all
others (offline tool). Nothing here touches global RNG state.

Keys:
- image key: ``image_key(image_id)``; ints pass through as int64, strings (Cityscapes ids such
  as ``"frankfurt_000000_000294"``) map through an 8-byte blake2b digest (never Python's
  ``hash()``, which is salted per process).
- annotation key: derived from the annotation's own content (class, crowd flag, box), not from its
  id or position, so every loader gives the same key (see ``annotation_keys``).
- stream: a small int or a str naming the decision ("class_flip", "jitter", ...), so different
  decisions about the same annotation are independent.
"""

from __future__ import annotations

import functools
import hashlib
import numbers
import os

import numpy as np
from scipy.special import ndtri


__all__ = [
    "as_key_array",
    "broadcast_keys",
    "image_key",
    "image_keys",
    "keyed_standard_normal",
    "keyed_uniform",
    "key_states",
    "keyed_uniform_at",
    "pair_key",
    "record_image_id",
    "stream_key",
    "uniform_from_state",
]

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # splitmix64 increment (2**64 / golden ratio)
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_INV_2_53 = 1.0 / (1 << 53)
_MIX1_U64, _MIX2_U64 = np.uint64(_MIX1), np.uint64(_MIX2)
_SHIFT27, _SHIFT30, _SHIFT31 = np.uint64(27), np.uint64(30), np.uint64(31)


def _mix_int(value: int) -> int:
    """splitmix64 finalizer on a Python int (scalar part of the key)."""
    z = value & _MASK64
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
    return z ^ (z >> 31)


def _mix_array(z: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer on a uint64 array; multiplication wraps modulo 2**64 by design."""
    z = z ^ (z >> _SHIFT30)  # a new array: the caller's is not changed; in place from here (fewer temporaries)
    z *= _MIX1_U64
    z ^= z >> _SHIFT27
    z *= _MIX2_U64
    z ^= z >> _SHIFT31
    return z


def _absorb(state: np.ndarray, values: np.ndarray, salt: int) -> np.ndarray:
    """Mix ``values`` (uint64) into ``state``; ``salt`` separates the key positions."""
    with np.errstate(over="ignore"):
        return _mix_array(state ^ _mix_array(values + np.uint64((salt * _GOLDEN) & _MASK64)))


def _hash_text(text: str) -> int:
    """Stable signed 64-bit hash of a string (blake2b, 8 bytes, little endian)."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def stream_key(stream) -> int:
    """Map a stream name (str) or number (non-negative int) to a 64-bit int."""
    if isinstance(stream, str):
        return _hash_text("stream:" + stream) & _MASK64
    if isinstance(stream, bool) or not isinstance(stream, numbers.Integral) or stream < 0:
        raise ValueError(f"stream must be a str or a non-negative int, got {stream!r}")
    return int(stream) & _MASK64


def record_image_id(record: dict):
    """The id that keys a dataset record's noise: its "image_id", else (semantic loaders such as Cityscapes' give
    none) its image file's stem. The offline tool and the mappers key every image by it, so both draw the same
    noise."""
    if "image_id" in record:
        return record["image_id"]
    return os.path.splitext(os.path.basename(record["file_name"]))[0]


def image_key(image_id) -> int:
    """Key of one image id: ints pass through (must fit int64), strings hash stably (blake2b)."""
    if isinstance(image_id, str):
        return _hash_text(image_id)
    if isinstance(image_id, bool) or not isinstance(image_id, numbers.Integral):
        raise ValueError(f"image id must be an int or a str, got {type(image_id).__name__} {image_id!r}")
    value = int(image_id)
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"integer image id {value} does not fit in int64; use a smaller id or a str")
    return value


def image_keys(image_ids) -> np.ndarray:
    """Keys of many image ids -> int64 array (n,). Hashes each distinct string once."""
    if isinstance(image_ids, np.ndarray):
        if image_ids.dtype.kind in "iu":
            return _int_array_to_int64(image_ids.reshape(-1), "image ids")
        image_ids = image_ids.reshape(-1).tolist()
    values = list(image_ids)
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        try:
            return np.asarray(values, dtype=np.int64).reshape(-1)
        except OverflowError:
            raise ValueError("integer image ids must fit in int64; use smaller ids or str ids") from None
    cache: dict = {}
    keys = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        key = cache.get(value)
        if key is None:
            key = cache[value] = image_key(value)
        keys[i] = key
    return keys


def _int_array_to_int64(values: np.ndarray, what: str) -> np.ndarray:
    if values.dtype == np.uint64 and values.size and values.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{what} must fit in int64; got a value above 2**63-1")
    return values.astype(np.int64, copy=False)


def as_key_array(keys, name: str) -> np.ndarray:
    """Scalar or 1-D keys -> int64 array (n,); ints pass through, str ids hash like image_key."""
    if type(keys) is np.ndarray and keys.dtype == np.int64 and keys.ndim == 1:
        return keys  # what the pipeline passes: no conversion, once per image in the mapper
    if np.ndim(keys) == 0:
        scalar = keys.item() if isinstance(keys, (np.ndarray, np.generic)) else keys
        return np.asarray([image_key(scalar)], dtype=np.int64)
    array = np.asarray(keys)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {array.shape}")
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind in "iu":
        return _int_array_to_int64(array, name)
    if array.dtype.kind in "OU":
        return image_keys(array)
    raise ValueError(f"{name} must be integers or str ids, got dtype {array.dtype}")


def broadcast_keys(image_keys_, ann_keys_) -> tuple[np.ndarray, np.ndarray]:
    """Image and annotation keys (scalars or (n,)) -> two int64 arrays of one length (a scalar broadcasts)."""
    images = as_key_array(image_keys_, "image_keys")
    anns = as_key_array(ann_keys_, "ann_keys")
    if images.size == anns.size:
        return images, anns
    if images.size == 1:
        return np.broadcast_to(images, anns.shape), anns
    if anns.size == 1:
        return images, np.broadcast_to(anns, images.shape)
    raise ValueError(
        f"image_keys has {images.size} entries but ann_keys has {anns.size}; "
        "pass one image key per annotation or a single shared image key"
    )


@functools.lru_cache(maxsize=256)
def _base_state(seed: int, stream) -> int:
    """The (seed, stream) part of every key; cached because the mapper asks for it per image."""
    return _mix_int(_mix_int(seed + _GOLDEN) ^ _mix_int(stream_key(stream) + 2 * _GOLDEN))


def _key_state(seed, image_keys_, ann_keys_, stream) -> np.ndarray:
    """Per-annotation 64-bit state before the draw index is absorbed -> uint64 (n,)."""
    images, anns = broadcast_keys(image_keys_, ann_keys_)
    base = _base_state(seed, stream)
    state = np.full(images.shape, base, dtype=np.uint64)
    state = _absorb(state, images.view(np.uint64), 3)
    return _absorb(state, anns.view(np.uint64), 4)


def pair_key(image_key_, ann_key_) -> int:
    """One int64 key of an (image key, annotation key) pair: for a model that keys its draws by one image key and
    runs per annotation (the Markov boundary model on one instance mask)."""
    return int(_key_state(0, image_key_, ann_key_, "pair_key").view(np.int64)[0])


def _to_unit(bits: np.ndarray) -> np.ndarray:
    """Top 53 bits -> float64 in [0, 1)."""
    return (bits >> np.uint64(11)).astype(np.float64) * _INV_2_53


def keyed_uniform_at(seed, image_keys, ann_keys, stream, draw_index) -> np.ndarray:
    """Uniform [0, 1) at explicit draw indices -> float64 of the broadcast shape.

    Keys broadcast to (n,); draw_index is 0-D/1-D (broadcast against (n,)) or 2-D (n or 1, d),
    giving (n, d). Use it for variable-length draws (e.g. one offset per polygon vertex): draw ``j`` of an
    annotation is the same number whether 1 or 1000 draws were requested.
    """
    return uniform_from_state(_key_state(seed, image_keys, ann_keys, stream), draw_index)


def key_states(seed, image_keys, ann_keys, stream) -> np.ndarray:
    """The keys' states (uint64 (n,)) before the draw index: index them and pass them to ``uniform_from_state``
    when many draws of few keys come in rounds (the Markov boundary steps), instead of rehashing the keys."""
    return _key_state(seed, image_keys, ann_keys, stream)


def uniform_from_state(state: np.ndarray, draw_index) -> np.ndarray:
    """``keyed_uniform_at`` of keys already hashed by ``key_states`` (the same numbers)."""
    draw = np.asarray(draw_index)
    if draw.shape == state.shape:  # one draw per state (the Markov steps): nothing to broadcast
        return _to_unit(_absorb(state, draw.astype(np.int64, copy=False).view(np.uint64), 5))
    if draw.ndim == 2:
        state = state[:, None]  # (n, draws): one row of draws per annotation
    try:
        state, draw = np.broadcast_arrays(state, draw.astype(np.int64).view(np.uint64))
    except ValueError:
        raise ValueError(f"draw_index of shape {draw.shape} does not broadcast against {state.shape[0]} keys") from None
    return _to_unit(_absorb(state, draw, 5))


def keyed_uniform(seed, image_keys, ann_keys, stream, draws: int = 1) -> np.ndarray:
    """Uniform [0, 1) per annotation -> float64 (n,) when draws == 1, else (n, draws).

    image_keys and ann_keys are int keys (or str image ids), scalars or 1-D of length n;
    a scalar broadcasts (e.g. one image key for all annotations of that image).
    """
    if draws == 1 and 0 < np.size(ann_keys) <= _SMALL:
        return _keyed_uniform_small(seed, image_keys, ann_keys, stream)
    state = _key_state(seed, image_keys, ann_keys, stream)
    if draws == 1:
        return _to_unit(_absorb(state, np.zeros_like(state), 5))
    indices = np.arange(draws, dtype=np.uint64)[None, :]
    return _to_unit(_absorb(state[:, None], indices, 5))


# Below this many annotations (one image, in the mapper) plain Python ints beat numpy's per-call cost.
_SMALL = 32


def _absorb_int(state: int, value: int, salt: int, M=_MASK64, A=_MIX1, B=_MIX2, G=_GOLDEN) -> int:
    """`_absorb` on Python ints, bit-identical to the array version; the two splitmix64 finalizers are written out
    (constants bound as defaults) because the mapper runs this a few dozen times per image."""
    z = (value + salt * G) & M
    z = ((z ^ (z >> 30)) * A) & M
    z = ((z ^ (z >> 27)) * B) & M
    z = state ^ z ^ (z >> 31)
    z = ((z ^ (z >> 30)) * A) & M
    z = ((z ^ (z >> 27)) * B) & M
    return z ^ (z >> 31)


def _keyed_uniform_small(seed, image_keys_, ann_keys_, stream) -> np.ndarray:
    """keyed_uniform(draws=1) for a few annotations (one image in the mapper), same numbers as the array path."""
    base = _base_state(seed, stream)
    images, anns = broadcast_keys(image_keys_, ann_keys_)
    image_states: dict = {}
    out = []
    for image, ann in zip(images.tolist(), anns.tolist()):
        state = image_states.get(image)
        if state is None:
            state = image_states[image] = _absorb_int(base, image & _MASK64, 3)
        out.append((_absorb_int(_absorb_int(state, ann & _MASK64, 4), 0, 5) >> 11) * _INV_2_53)
    return np.array(out)


def keyed_standard_normal(seed, image_keys, ann_keys, stream, draw_index) -> np.ndarray:
    """N(0, 1) at explicit draw indices (inverse normal CDF of an open-interval keyed uniform)."""
    uniform = keyed_uniform_at(seed, image_keys, ann_keys, stream, draw_index)
    # shift by half a step so the uniform is never exactly 0 (ndtri(0) = -inf)
    return ndtri(uniform + 0.5 * _INV_2_53)
