"""Markov boundary noise on semantic label maps, after Yao et al. (ICLR 2023), per connected component.

Citation: J. Yao, Y. Zhang, S. Zheng, M. Goswami, P. Prasanna, C. Chen, "Learning to Segment from Noisy
Annotations: A Spatial Correction Approach", ICLR 2023: a Markov model of segmentation label noise whose errors
are spatially correlated and biased (the boundary drifts outwards or inwards), unlike i.i.d. pixel flips. What is
followed here is the authors' generator (github.com/michaelofsbu/SpatialCorrection, ``noise_generator.py``,
``_MarkovNoise_random``, read for this file; its README names theta1 "preference", theta2 "variance" and theta3
"random flipping"); the paper's own wording of its Definition 1 was not checked.

The reference corrupts one binary mask; this model runs it on the mask M of every component (8-connected, per
class, as `SemanticNoise` finds and keys them; ignore and ``background_label`` pixels are no component):

  ``steps`` (T) times: with probability ``grow_prob`` (theta1) the step grows M, else it shrinks M (the
      reference grows when its step's uniform draw is below theta1, though both branches are commented "erode");
      grow:   every pixel outside M that is 4-adjacent to M joins M with probability ``rate`` (theta2),
      shrink: every pixel of M that is 4-adjacent to a pixel outside M leaves M with probability ``rate``;
      one step decides all its pixels on the mask before it; the image edge is no boundary (as in the
      reference) and ignore pixels never join M.
  ``flip_rate`` (theta3) > 0 only: then every pixel of M's window toggles with probability ``flip_rate`` and M is
      smoothed as the reference smooths: 5 x 5 Gaussian (sigma 2) of M as uint8 0/255, kept where > 127.

So each boundary pixel moves by a lazy random walk of T steps whose direction is shared by the whole component
(the bias: ``grow_prob`` 0.5 is unbiased, 0.8 / 0.2 are the paper's settings J1 / J2 on JSRT), and the walks of
neighbouring pixels are coupled through the mask, which makes the errors spatially correlated. A pixel moves at
most ``steps`` pixels (4-connected paths) from where it was, so every change lies within taxicab distance
``steps`` of the original boundary (``steps + 2`` with ``flip_rate`` > 0, plus the rare toggle cluster that
survives the smoothing, which is anywhere in the window). The first step changes a ``rate`` fraction of the
component's outer (grow) or inner (shrink) 4-connected ring in expectation; later steps act on a rougher
boundary, so a straight edge moves by ``rate * T`` (a lower bound in expectation) to ``2 * rate * T`` pixels on
average after T steps of one direction (measured 1.2-1.7 x ``rate * T``; tested).

Multi-class rules (the reference is binary): a pixel that joins M takes the component's class, a pixel that
leaves it the label of the nearest pixel outside the original component (so no class appears that was not
nearby); ignore pixels never join and never change; components are applied in key order, a later one
overwriting an earlier one where their changes overlap.

Differences from the reference, on purpose: the reference smooths even when theta3 = 0; here smoothing comes
only with ``flip_rate`` > 0, so ``rate`` 0 (or ``steps`` 0) is the identity and parts thinner than the 5 x 5
window (poles, lines) are not erased. So the authors' setting theta3 = 0 is ``flip_rate=1e-9`` here (smoothing on,
practically no toggle), e.g. ``{"type": "markov_boundary", "rate": 0.05, "flip_rate": 1e-9}``; the ``boundary<NN>``
short names (``flip_rate`` 0) are NOT the authors' setting: without the smoothing, the pixels the walk cuts off stay
as specks and pinholes. Measured on the 26 objects of 12 toy maps, one object at a time, rate 0.05, 100 steps,
``grow_prob`` 0.5: ``boundary5`` changes 1.8x the pixels the authors' generator changes (336 vs 186 per
object; ``flip_rate=1e-9``: 216) and leaves 34 fragments per object (11 pieces, 23 holes) where the authors'
generator and ``flip_rate=1e-9`` leave 2-3; at rate 0.02, 2.0x the pixels (tests/noise/test_boundary_noise.py
checks the ratios against a transcription of the generator). Toggles are drawn in the component's window (its box
grown by ``steps + 4``), not the whole image. Every draw is keyed (seed, image key, component key, step, pixel)
with `keyed_random`, never numpy's global RNG, so a map gets the same noise in every epoch, worker and tool.

Short names: ``boundary<NN>`` (``grow_prob`` 0.5), ``boundarygrow<NN>`` (0.8), ``boundaryshrink<NN>`` (0.2),
where NN is ``rate`` (theta2) in percent, with ``steps`` = 100 and ``flip_rate`` = 0 (no smoothing: not the
authors' theta3 = 0, which is ``flip_rate=1e-9``, above; the published toy results used these): in ``boundary5`` each
step moves 5% of a component's ring, rate x T = 5 ring moves per boundary place over the steps;
``boundarygrow5_s1`` has the paper's J1 theta1 and theta2 with seed 1 (J1 for lung and heart itself, T = 180 and
theta3 = 0.2, is the dict spec ``{"type": "markov_boundary", "rate": 0.05, "steps": 180, "grow_prob": 0.8,
"flip_rate": 0.2}``).

Cost: the steps touch only the pixels next to a boundary, all components at once (about 30 ms per 96 x 96 toy map
and 1.3 s per 1024 x 2048 map of ~100 components at 100 steps, one CPU core): for Cityscapes-sized sets, write
the noisy maps once with tools/make_noisy_dataset.py --dataset rather than on the fly.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage

from ._validation import check_model_fields, check_rate
from .geometry import raster_window, segmentation_from_window
from .keyed_random import (
    as_key_array,
    image_key as to_image_key,
    key_states,
    keyed_uniform,
    keyed_uniform_at,
    pair_key,
    uniform_from_state,
)
from .mask_noise import BOUNDARY, CLEAN, SpatialOps
from .registry import register_noise
from .semantic_noise import SemanticNoise

__all__ = ["BoundaryNoise", "MaskBoundaryNoise"]

DIRECTION_STREAM = "boundary_direction"
STEP_STREAM = "boundary_step"
TOGGLE_STREAM = "boundary_toggle"
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))  # 4-adjacency, as the reference's distance == 1
_SMOOTH_RADIUS = 2  # the reference's 5 x 5 Gaussian


@dataclass(frozen=True, eq=False)
class BoundaryNoise:
    """Markov boundary noise (Yao et al., ICLR 2023) on (H, W) integer label maps with classes 0..K-1 and
    ``ignore_label``; see the module docstring for the process and its parameters."""

    rate: float
    num_classes: int
    seed: int = 0
    steps: int = 100
    grow_prob: float = 0.5
    flip_rate: float = 0.0
    ignore_label: int = 255
    background_label: int | None = None
    _components: SemanticNoise = field(init=False, repr=False)

    def __post_init__(self):
        check_model_fields(self)
        if isinstance(self.steps, bool) or not isinstance(self.steps, numbers.Integral) or self.steps < 0:
            raise ValueError(f"steps must be a non-negative int (Markov steps T), got {self.steps!r}")
        object.__setattr__(self, "steps", int(self.steps))
        object.__setattr__(self, "grow_prob", check_rate(self.grow_prob, "grow_prob"))
        object.__setattr__(self, "flip_rate", check_rate(self.flip_rate, "flip_rate"))
        # SemanticNoise checks ignore_label / background_label and finds and keys the components, so both
        # models see the same components under the same keys; its rate 0 changes nothing.
        components = SemanticNoise(
            0.0, self.num_classes, ignore_label=self.ignore_label, background_label=self.background_label
        )
        object.__setattr__(self, "_components", components)

    def apply(self, label_map, image_key) -> np.ndarray:
        """Noisy copy of ``label_map`` (H, W), same dtype; ``image_key`` is the image id (int or str)."""
        return self.apply_all([label_map], [image_key])[0]

    def apply_all(self, label_maps, image_keys) -> list[np.ndarray]:
        """``apply`` on maps of one size, walked at once (every component's window in one atlas, one round of numpy
        calls per step for all): the same maps as one ``apply`` each, since a component's walk and draws are its
        own. MaskBoundaryNoise walks the masks of one image so."""
        noisy_maps, parts = [], []
        # a mask moves at most one pixel per step: its window holds it, its neighbours and the smoothing's reach
        reach = self.steps + 1 + (_SMOOTH_RADIUS + 1 if self.flip_rate > 0 else 0)
        moves = self.steps > 0 and (self.rate > 0 or self.flip_rate > 0)
        for label_map, image_key in zip(label_maps, image_keys):
            plan, components = self._components.plan(label_map, image_key)
            label_map = np.asarray(label_map)
            noisy_maps.append(label_map.copy())
            if plan.keys.size and moves:
                atlas = _Atlas(label_map, components, plan.boxes, reach, self.ignore_label)
                parts.append((noisy_maps[-1], label_map, plan, atlas, to_image_key(image_key)))
        if not parts:
            return noisy_maps
        atlas = _Atlas.joined([atlas for _, _, _, atlas, _ in parts])
        keys = np.concatenate([np.full(plan.keys.size, key, dtype=np.int64) for _, _, plan, _, key in parts])
        component_keys = np.concatenate([plan.keys for _, _, plan, _, _ in parts])
        if self.rate > 0:
            grows = (
                keyed_uniform(self.seed, keys, component_keys, DIRECTION_STREAM, draws=self.steps).reshape(
                    component_keys.size, self.steps
                )
                < self.grow_prob
            )  # one direction per step per component
            self._walk(atlas, keys, component_keys, grows)
        index = 0
        for noisy, label_map, plan, _, key in parts:
            for class_id, component_key in zip(plan.class_ids.tolist(), plan.keys.tolist()):
                mask = atlas.mask(index)
                if self.flip_rate > 0:
                    mask = self._toggle_and_smooth(mask, atlas.raster(index), key, component_key)
                window = atlas.windows[index]
                self._write(noisy[window], label_map[window], atlas.inside_masks[index], mask, class_id)
                index += 1
        return noisy_maps

    def _walk(self, atlas: "_Atlas", keys: np.ndarray, component_keys: np.ndarray, grows: np.ndarray) -> None:
        """The T Markov steps (``grows``: (components, T) bool) of every component at once, on the cells next to
        each mask's boundary; ``keys``: each component's image key."""
        cells = atlas.cells
        candidates = atlas.boundary_candidates()
        owner = atlas.owner(candidates)
        cells[candidates] |= CANDIDATE
        # per candidate, kept beside it: its window's row stride, its key's state (hashed once, not per step) and
        # its image raster index (the draw index is step * image pixels + raster index, one per (step, pixel))
        stride = atlas.strides[owner]
        states = key_states(self.seed, keys, component_keys, STEP_STREAM)[owner]
        raster = atlas.to_raster(candidates, owner)
        step_grows = np.ascontiguousarray(grows.T)  # (T, components): one row per step
        image_pixels = atlas.image_pixels
        for step in range(self.steps):
            near = (
                cells[candidates - 1] | cells[candidates + 1] | cells[candidates - stride] | cells[candidates + stride]
            )
            state = cells[candidates] & STATE
            outer = (state == MASK_OUT) & ((near & MASK_IN) != 0)
            inner = (state == MASK_IN) & ((near & LEAVABLE) != 0)
            keep = outer | inner
            if not keep.all():  # no longer next to the boundary
                cells[candidates[~keep]] &= STATE
                candidates, owner, stride, states, raster, outer = (
                    values[keep] for values in (candidates, owner, stride, states, raster, outer)
                )
            grow = step_grows[step][owner]
            ring = np.flatnonzero(outer == grow)  # grow steps take outer cells, shrink steps inner ones
            if ring.size == 0:
                continue
            draws = uniform_from_state(states[ring], step * image_pixels + raster[ring])
            flipped = ring[draws < self.rate]
            if flipped.size == 0:
                continue
            moved = candidates[flipped]
            cells[moved] = np.where(grow[flipped], MASK_IN, MASK_OUT) | CANDIDATE
            # the moved cells' neighbours may now be next to the boundary: add those not yet candidates
            moved_stride = stride[flipped]
            around = np.concatenate([moved - 1, moved + 1, moved - moved_stride, moved + moved_stride])
            fresh = (cells[around] & (CANDIDATE | FRAME | IGNORE_BIT)) == 0
            around, first = np.unique(around[fresh], return_index=True)
            if around.size == 0:
                continue
            cells[around] |= CANDIDATE
            # each added cell's window is its moved neighbour's (windows are framed apart)
            source = np.concatenate([flipped] * 4)[fresh][first]
            added_owner = owner[source]
            candidates = np.concatenate([candidates, around])
            owner = np.concatenate([owner, added_owner])
            stride = np.concatenate([stride, stride[source]])
            states = np.concatenate([states, states[source]])
            raster = np.concatenate([raster, atlas.to_raster(around, added_owner)])

    def _toggle_and_smooth(self, mask, raster, key, component_key) -> np.ndarray:
        """The reference's final step: toggle each window pixel with probability flip_rate, then smooth."""
        toggles = keyed_uniform_at(self.seed, key, component_key, TOGGLE_STREAM, raster.ravel()) < self.flip_rate
        mask = (mask ^ toggles.reshape(mask.shape)).astype(np.uint8) * 255
        smooth = 2 * _SMOOTH_RADIUS + 1
        return cv2.GaussianBlur(mask, (smooth, smooth), 2, sigmaY=2) > 127

    def _write(self, noisy, original, inside, mask, class_id: int) -> None:
        """Joined pixels take the class; left pixels the label of the nearest pixel outside the component."""
        joined = mask & ~inside & (original != self.ignore_label)
        noisy[joined] = class_id
        left = inside & ~mask
        if not left.any() or inside.all():
            return
        # The nearest outside pixel of a left pixel is no farther than the deepest left pixel lies (OpenCV's exact
        # distance is fast): scipy's nearest-pixel transform then runs on the left pixels' box grown by that depth.
        depth = float(cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[left].max())
        reach = int(np.ceil(depth)) + 1
        rows, cols = np.flatnonzero(left.any(axis=1)), np.flatnonzero(left.any(axis=0))
        crop = (
            slice(max(0, int(rows[0]) - reach), int(rows[-1]) + reach + 1),
            slice(max(0, int(cols[0]) - reach), int(cols[-1]) + reach + 1),
        )
        noisy, original, inside, left = noisy[crop], original[crop], inside[crop], left[crop]
        nearest = ndimage.distance_transform_edt(inside, return_distances=False, return_indices=True)
        noisy[left] = original[nearest[0][left], nearest[1][left]]


# Atlas cells are bit sets, so that OR-ing a cell's four neighbours says what it touches. A state is one of
# MASK_OUT, MASK_IN, IGNORED (never joins) and FRAME (outside the image or the window); LEAVABLE marks the states
# a mask pixel leaves into: the image edge is no boundary, as in the reference (its distance transform does not
# see beyond the image). CANDIDATE flags the cells the steps look at (those next to a boundary).
LEAVABLE, MASK_IN, IGNORE_BIT, FRAME, CANDIDATE = 1, 2, 4, 8, 16
MASK_OUT, IGNORED = LEAVABLE, LEAVABLE | IGNORE_BIT
STATE = CANDIDATE - 1


class _Atlas:
    """Every component's window (its box grown by ``reach``, clipped to the image) as one flat uint8 array of
    cells, each window framed by one FRAME cell on every side so that +-1 and +-stride never leave it; the
    Markov steps then run on all components at once, touching only the pixels next to a boundary."""

    def __init__(self, label_map, components, boxes, reach: int, ignore_label: int):
        height, width = label_map.shape
        self.image_pixels = height * width
        self.image_width = width
        self.windows, self.inside_masks, bases, strides, origins = [], [], [0], [], []
        for index, (x, y, w, h) in enumerate(boxes.tolist()):
            y0, x0 = max(0, y - reach), max(0, x - reach)
            y1, x1 = min(height, y + h + reach), min(width, x + w + reach)
            self.windows.append((slice(y0, y1), slice(x0, x1)))
            self.inside_masks.append(components[y0:y1, x0:x1] == index + 1)
            strides.append(x1 - x0 + 2)
            origins.append((y0 - 1, x0 - 1))  # image position of the frame's corner
            bases.append(bases[-1] + (y1 - y0 + 2) * (x1 - x0 + 2))
        self.bases = np.asarray(bases, dtype=np.int64)
        self.strides = np.asarray(strides, dtype=np.int64)
        self.origins = np.asarray(origins, dtype=np.int64).reshape(-1, 2)
        self.cells = np.full(int(self.bases[-1]), FRAME, dtype=np.uint8)
        for index, window in enumerate(self.windows):
            cells = self._grid(index)
            cells[1:-1, 1:-1] = np.where(label_map[window] == ignore_label, IGNORED, MASK_OUT)
            cells[1:-1, 1:-1][self.inside_masks[index]] = MASK_IN

    @classmethod
    def joined(cls, atlases: list) -> "_Atlas":
        """One atlas of the windows of atlases of maps of one size, in their order."""
        if len(atlases) == 1:
            return atlases[0]
        joined = cls.__new__(cls)
        joined.image_pixels, joined.image_width = atlases[0].image_pixels, atlases[0].image_width
        if any((a.image_pixels, a.image_width) != (joined.image_pixels, joined.image_width) for a in atlases):
            raise ValueError("_Atlas.joined needs atlases of maps of one size")
        offsets = np.cumsum([0] + [a.cells.size for a in atlases])
        joined.cells = np.concatenate([a.cells for a in atlases])
        joined.bases = np.concatenate([a.bases[:-1] + offset for a, offset in zip(atlases, offsets)] + [offsets[-1:]])
        joined.strides = np.concatenate([a.strides for a in atlases])
        joined.origins = np.concatenate([a.origins for a in atlases])
        joined.windows = [window for a in atlases for window in a.windows]
        joined.inside_masks = [inside for a in atlases for inside in a.inside_masks]
        return joined

    def _grid(self, index: int) -> np.ndarray:
        """The framed window of component ``index``, a 2-D view into ``cells``."""
        start, stop = int(self.bases[index]), int(self.bases[index + 1])
        return self.cells[start:stop].reshape(-1, int(self.strides[index]))

    def mask(self, index: int) -> np.ndarray:
        """The component's current mask in its window -> bool (h, w)."""
        return (self._grid(index)[1:-1, 1:-1] & MASK_IN) != 0

    def raster(self, index: int) -> np.ndarray:
        """Image raster index of every pixel of the window -> int64 (h, w)."""
        rows, cols = self.windows[index]
        return (
            np.arange(rows.start, rows.stop, dtype=np.int64)[:, None] * self.image_width
            + np.arange(cols.start, cols.stop, dtype=np.int64)[None, :]
        )

    def boundary_candidates(self) -> np.ndarray:
        """Cells next to a mask's boundary (inside or out) -> sorted int64 cell indices."""
        found = []
        for index in range(len(self.windows)):
            cells = self._grid(index)
            inside = (cells == MASK_IN).astype(np.uint8)
            near = cv2.dilate(inside, _CROSS) != cv2.erode(inside, _CROSS)
            found.append(np.flatnonzero(near & ((cells == MASK_IN) | (cells == MASK_OUT))) + self.bases[index])
        return np.concatenate(found)

    def owner(self, cells: np.ndarray) -> np.ndarray:
        """Component index of each cell index."""
        return np.searchsorted(self.bases, cells, side="right") - 1

    def to_raster(self, cells: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Image raster index of each cell (cells inside their window's frame)."""
        local = cells - self.bases[owner]
        stride = self.strides[owner]
        rows = local // stride + self.origins[owner, 0]
        cols = local % stride + self.origins[owner, 1]
        return rows * self.image_width + cols


register_noise(
    "markov_boundary",
    "semantic_noise",
    BoundaryNoise,
    short={"boundary": {}, "boundarygrow": {"grow_prob": 0.8}, "boundaryshrink": {"grow_prob": 0.2}},
)


@dataclass(frozen=True, eq=False)
class MaskBoundaryNoise(SpatialOps):
    """The Markov boundary model on instance masks: each annotation's mask (every connected part of it) walks as
    one component of a label map does, with draws keyed by (seed, image, annotation), so offline and on-the-fly
    noise agree and an annotation's noise does not depend on the others. Every noisable annotation is moved
    (op ``boundary``; ``boundary_skipped`` when no pixel would remain): the result is BoundaryNoise's on a binary
    map of the image holding that mask alone. The masks of one image walk at once (``apply_ops``; the steps'
    Python cost is per step, not per mask): about 20 ms of CPU per toy image at 100 steps."""

    rate: float
    seed: int = 0
    steps: int = 100
    grow_prob: float = 0.5
    flip_rate: float = 0.0
    _model: BoundaryNoise = field(init=False, repr=False)

    def __post_init__(self):
        # a binary map with the mask as class 1 and background 0 that never moves by itself; it checks the fields
        model = BoundaryNoise(self.rate, 2, self.seed, self.steps, self.grow_prob, self.flip_rate, background_label=0)
        object.__setattr__(self, "_model", model)

    @property
    def moves(self) -> bool:
        return self._model.steps > 0 and (self._model.rate > 0 or self._model.flip_rate > 0)

    def choose_ops(self, image_keys, ann_keys) -> np.ndarray:
        anns = as_key_array(ann_keys, "ann_keys")
        return np.full(anns.size, BOUNDARY if self.moves else CLEAN, dtype=np.int8)

    def apply_op(self, segmentation, op: int, image_hw, image_key, ann_key):
        return self.apply_ops([segmentation], [op], image_hw, image_key, [ann_key])[0]

    def apply_ops(self, segmentations, ops, image_hw, image_key, ann_keys) -> list:
        """The masks of one image walked at once (BoundaryNoise.apply_all), each on a binary map of the image
        holding it alone, keyed by (image, annotation)."""
        for op in ops:
            if op != BOUNDARY:
                raise ValueError(f"op must be {BOUNDARY} (boundary, see OP_NAMES), got {op!r}")
        # the whole image as the map: the model windows the mask itself, and its draws key on image positions
        margin = max(int(image_hw[0]), int(image_hw[1]))
        windows = [raster_window(segmentation, image_hw, margin) for segmentation in segmentations]
        present = [index for index, window in enumerate(windows) if window is not None]
        key = to_image_key(image_key)
        moved = self._model.apply_all([windows[i][0] for i in present], [pair_key(key, ann_keys[i]) for i in present])
        out = [None] * len(segmentations)
        for index, binary_map in zip(present, moved):
            out[index] = segmentation_from_window(binary_map, windows[index][1], segmentations[index], image_hw)
        return out


register_noise(
    "mask_boundary",
    "spatial_noise",
    MaskBoundaryNoise,
    short={"maskboundary": {}, "maskboundarygrow": {"grow_prob": 0.8}, "maskboundaryshrink": {"grow_prob": 0.2}},
)
