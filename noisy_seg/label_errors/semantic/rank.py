"""The semantic quality scores: per predicted component, the seed's uncertainty and geometry metrics and its
adjusted IoU with the given label (`component_metrics`), and the meta classifier's P(true positive)
(`score_images`)."""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import sklearn
from scipy import ndimage, sparse
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ...utils.components import class_components
from .table import ComponentTable

HEATMAPS = ("E", "D", "V")  # normalized entropy, probability margin, variation ratio
C_VALUES = tuple(float(c) for c in 10.0 ** np.linspace(-4.2, 0.8, 20))  # the meta classifier's inverse L1 weights
MIN_PROPOSAL_SIZE = 100  # pixels
SOLVERS = ("saga", "liblinear")
_NEIGHBOURS = ((0, 1), (1, 0), (1, 1), (1, -1))  # the 8-neighbourhood, each pair of pixels once


def feature_names(num_classes: int) -> list[str]:
    """The columns of `ImageComponents.features` (the seed's metric names)."""
    names = ["S", "S_in", "S_bd", "S_rel", "S_rel_in"]
    for h in HEATMAPS:
        names += [
            h,
            f"{h}_in",
            f"{h}_bd",
            f"{h}_rel",
            f"{h}_rel_in",
            f"{h}_var",
            f"{h}_var_in",
            f"{h}_var_bd",
            f"{h}_var_rel",
            f"{h}_var_rel_in",
        ]
    names += ["centroid_row", "centroid_col"]
    names += [f"cprob{c}" for c in range(num_classes)] + [f"ndist{c}" for c in range(num_classes)]
    return names


@dataclass
class ImageComponents:
    """The predicted connected components of one image: n components, in the order of `connected_components`.

    classes: (n,) predicted class; boxes: (n, 4) x0, y0, x1, y1 (x1, y1 exclusive); features: (n, F) float64, columns
    `feature_names(K)`; iou_adj: (n,) IoU_adj with the given label (None without one); masks: {component index: bool
    mask of its box} for the proposal candidates (IoU_adj = 0, an inner pixel, at least `min_size` pixels).
    """

    shape: tuple
    classes: np.ndarray
    boxes: np.ndarray
    features: np.ndarray
    iou_adj: Optional[np.ndarray] = None
    masks: dict = field(default_factory=dict)

    @property
    def sizes(self) -> np.ndarray:
        return self.features[:, 0]

    @property
    def scorable(self) -> np.ndarray:
        """Components with an inner pixel: the seed scores only these (S_in > 0)."""
        return self.features[:, 1] > 0


def _check_probs(probs) -> np.ndarray:
    probs = np.asarray(probs)
    if probs.ndim != 3 or probs.shape[0] < 2 or 0 in probs.shape or not np.issubdtype(probs.dtype, np.floating):
        raise ValueError(
            f"probs must be a float (K, H, W) softmax with K >= 2 classes, got {probs.dtype} {probs.shape}"
        )
    return probs


def _pixel_maps(probs: np.ndarray):
    """(E, D, V, argmax) in one pass over the class planes: running top two, argmax and sum of p log p."""
    num_classes = probs.shape[0]
    tiny = np.finfo(np.float32).tiny
    first = probs[0].astype(np.float32)
    second = np.zeros_like(first)
    entropy = np.zeros_like(first)
    argmax = np.zeros(first.shape, np.uint8 if num_classes <= 256 else np.int32)
    buffer, larger = np.empty_like(first), np.empty(first.shape, bool)
    for k in range(num_classes):
        plane = probs[k]
        np.maximum(plane, tiny, out=buffer)
        np.log(buffer, out=buffer)
        buffer *= plane
        entropy -= buffer
        if k:
            np.greater(plane, first, out=larger)
            np.maximum(second, np.minimum(first, plane, out=buffer), out=second)
            np.maximum(first, plane, out=first)
            np.copyto(argmax, k, where=larger)
    entropy /= np.log(num_classes)
    variation = np.subtract(1.0, first, out=first)
    return entropy, variation + second, variation, argmax


def heatmaps(probs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel heatmaps (H, W) float32 of a (K, H, W) softmax: normalized entropy E = -sum p log p / log K, probability
    margin D = 1 - p(1) + p(2) and variation ratio V = 1 - p(1), p(1) >= p(2) the two largest probabilities."""
    return _pixel_maps(_check_probs(probs))[:3]


def connected_components(label_map, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The 8-connected components of each class of an integer (H, W) map; values outside [0, num_classes) (an
    ignore label) belong to none.

    Returns (components int32 (H, W): 0 for none, else 1..n; classes (n,) int64). Components are numbered class by
    class, each class in OpenCV's order (utils/components.py).
    """
    label_map = np.asarray(label_map)
    inside = (label_map >= 0) & (label_map < num_classes)
    present = np.flatnonzero(np.bincount(label_map[inside].ravel().astype(np.int64), minlength=num_classes))
    found = class_components(label_map, present.tolist())
    return found.labels, found.classes


def _boxes(components: np.ndarray, count: int) -> np.ndarray:
    """(count, 4) x0, y0, x1, y1 (exclusive) of components 1..count (one pass: scipy.ndimage.find_objects)."""
    boxes = np.zeros((count, 4), np.int64)
    for index, box in enumerate(ndimage.find_objects(components, max_label=count)):
        if box is not None:
            boxes[index] = box[1].start, box[0].start, box[1].stop, box[0].stop
    return boxes


def _adjusted_iou(
    components: np.ndarray, count: int, reference: np.ndarray, reference_count: int, match: np.ndarray
) -> np.ndarray:
    """IoU_adj of components 1..count against reference components 1..reference_count (0: none), `match` True where
    a pixel's component and reference component have one class. U = |k| + the pixels of the reference components of
    k's class that meet k and are not of that class in `components` (they are in no other component of it)."""
    size = np.bincount(components.ravel(), minlength=count + 1)
    matched, matched_reference = components[match], reference[match]
    intersection = np.bincount(matched, minlength=count + 1)
    miss = np.bincount(reference.ravel(), minlength=reference_count + 1) - np.bincount(
        matched_reference, minlength=reference_count + 1
    )
    pairs = np.unique(matched.astype(np.int64) * (reference_count + 1) + matched_reference)
    component, other = np.divmod(pairs, reference_count + 1)
    union = size + np.bincount(component, weights=miss[other], minlength=count + 1)
    return np.divide(intersection, union, out=np.zeros(count + 1), where=union > 0)[1:]


def adjusted_iou(predicted, given, num_classes: int) -> np.ndarray:
    """IoU_adj (n,) of each component of the predicted (H, W) class map (`connected_components` order) with the
    given (H, W) label map (values outside [0, num_classes), e.g. the ignore label, are no class). 0: the label has
    nothing of the component's class where it is (a false positive w.r.t. the label)."""
    predicted, given = np.asarray(predicted), np.asarray(given)
    if predicted.shape != given.shape or predicted.ndim != 2:
        raise ValueError(
            f"predicted and given must be (H, W) maps of one shape, got {predicted.shape} and {given.shape}"
        )
    components, classes = connected_components(predicted, num_classes)
    reference, reference_classes = connected_components(given, num_classes)
    match = (predicted == given) & (components > 0)
    return _adjusted_iou(components, len(classes), reference, len(reference_classes), match)


def _boundary_and_neighbours(predicted: np.ndarray, components: np.ndarray, count: int, num_classes: int):
    """Boundary pixels (an 8-neighbour inside the image is of another class) and, per component, the count of
    (component pixel, neighbour of another class) pairs by the neighbour's class: (count + 1, K)."""
    height, width = predicted.shape
    boundary = np.zeros(predicted.shape, bool)
    pairs = np.zeros((count + 1) * num_classes, np.int64)
    for dy, dx in _NEIGHBOURS:
        here = (slice(0, height - dy), slice(max(0, -dx), width - max(0, dx)))
        there = (slice(dy, height), slice(max(0, dx), width + min(0, dx)))
        differ = predicted[here] != predicted[there]
        boundary[here] |= differ
        boundary[there] |= differ
        for a, b in ((here, there), (there, here)):
            keys = components[a][differ].astype(np.int64) * num_classes + predicted[b][differ]
            pairs += np.bincount(keys, minlength=pairs.size)
    return boundary, pairs.reshape(count + 1, num_classes)


def component_metrics(probs, given=None, *, min_size: int = MIN_PROPOSAL_SIZE) -> ImageComponents:
    """The seed's metrics of every predicted connected component of one image, and its IoU_adj with `given`.

    probs: (K, H, W) softmax. given: (H, W) integer label map, values outside [0, K) (the ignore label) no class; None:
    no targets. Per component: size S, inner / boundary sizes (a boundary pixel has an 8-neighbour of another class),
    S/S_bd, S_in/S_bd; for each heatmap (E, D, V) the mean and variance over the component, its inner part and its
    boundary, the mean and variance times S/S_bd and the inner ones times S_in/S_bd; the centroid; the fraction of
    neighbouring pixels of each class (over the component's pixel-neighbour pairs); the mean probability of each
    class. Masks are kept for the candidates of proposals: IoU_adj = 0, S_in > 0 and S >= `min_size`.
    """
    probs = _check_probs(probs)
    num_classes, height, width = probs.shape
    if given is not None:
        given = np.asarray(given)
        if given.shape != (height, width) or not np.issubdtype(given.dtype, np.integer):
            raise ValueError(
                f"given must be an integer (H, W) = {(height, width)} label map, got {given.dtype} {given.shape}"
            )
    entropy, margin, variation, predicted = _pixel_maps(probs)
    components, classes = connected_components(predicted, num_classes)
    count = len(classes)
    boundary, neighbours = _boundary_and_neighbours(predicted, components, count, num_classes)
    # one label per (component, inner / boundary); a sparse (labels x pixels) 0/1 matrix sums any pixel map per label
    parts = (components.astype(np.int64) * 2 + boundary).ravel()
    pixels = parts.size
    summer = sparse.csc_matrix((np.ones(pixels), parts, np.arange(pixels + 1)), shape=(2 * count + 2, pixels))

    def per_part(values) -> np.ndarray:  # (count, 2) sums over the inner / boundary pixels
        return (summer @ np.asarray(values, np.float64).ravel()).reshape(-1, 2)[1:]

    sizes = np.bincount(parts, minlength=2 * count + 2).reshape(-1, 2)[1:].astype(np.float64)
    size_in, size_bd = sizes[:, 0], sizes[:, 1]
    size = size_in + size_bd
    bd, inner = np.maximum(size_bd, 1.0), np.maximum(size_in, 1.0)
    columns = [size, size_in, size_bd, size / bd, size_in / bd]
    for heat in (entropy, margin, variation):
        heat = heat.astype(np.float64)
        sums, squares = per_part(heat), per_part(heat * heat)
        mean = sums.sum(1) / size
        mean_in, mean_bd = sums[:, 0] / inner, sums[:, 1] / bd
        var = np.maximum(squares.sum(1) / size - mean**2, 0.0)
        var_in = np.maximum(squares[:, 0] / inner - mean_in**2, 0.0)
        var_bd = np.maximum(squares[:, 1] / bd - mean_bd**2, 0.0)
        columns += [
            mean,
            mean_in,
            mean_bd,
            mean * size / bd,
            mean_in * size_in / bd,
            var,
            var_in,
            var_bd,
            var * size / bd,
            var_in * size_in / bd,
        ]
    columns += [
        per_part(np.repeat(np.arange(height, dtype=np.float64), width)).sum(1) / size,
        per_part(np.tile(np.arange(width, dtype=np.float64), height)).sum(1) / size,
    ]
    columns += [per_part(probs[c]).sum(1) / size for c in range(num_classes)]
    neighbours = neighbours[1:]
    neighbour_fraction = neighbours / np.maximum(neighbours.sum(1, keepdims=True), 1)
    features = np.column_stack(columns + [neighbour_fraction])
    boxes = _boxes(components, count)
    image = ImageComponents((height, width), classes, boxes, features)
    if given is None:
        return image
    reference, reference_classes = connected_components(given, num_classes)
    match = predicted == given
    image.iou_adj = _adjusted_iou(components, count, reference, len(reference_classes), match)
    for index in np.flatnonzero((image.iou_adj == 0) & image.scorable & (size >= min_size)):
        x0, y0, x1, y1 = boxes[index]
        image.masks[int(index)] = components[y0:y1, x0:x1] == index + 1
    return image


def split_images(num_images: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The seed's random 50/50 image split: (training image indices, search image indices), the search half taking
    the odd one."""
    if num_images < 2:
        raise ValueError(f"the meta classifier needs at least 2 images (one to fit, one to search), got {num_images}")
    order = np.random.default_rng(seed).permutation(num_images)
    return np.sort(order[: num_images // 2]), np.sort(order[num_images // 2 :])


def _logistic_regression(folds: int, seed: int, solver: str):
    """The seed's LogisticRegressionCV(Cs=C_VALUES, penalty="l1", solver="saga", max_iter=1000, tol=1e-3), in the
    spelling of the installed scikit-learn (1.8 replaced penalty= by l1_ratios=). liblinear minimizes the same L1
    objective (its intercept, scaled by 100, is all but unpenalized)."""
    options = dict(
        Cs=list(C_VALUES), solver=solver, cv=folds, scoring="accuracy", max_iter=1000, tol=1e-3, random_state=seed
    )
    if solver == "liblinear":
        options["intercept_scaling"] = 100.0
    major_minor = tuple(int(part) for part in sklearn.__version__.split(".")[:2])
    if major_minor >= (1, 8):
        options["l1_ratios"] = (1.0,)
    else:
        options["penalty"] = "l1"
    if "use_legacy_attributes" in inspect.signature(LogisticRegressionCV).parameters:
        options["use_legacy_attributes"] = False  # C_ a float; scikit-learn 1.9 warns without a choice
    return LogisticRegressionCV(**options)


def fit_meta_classifier(features, true_positive, seed: int = 0, solver: str = "saga"):
    """The meta classifier: z-scoring (the training rows' statistics) then an L1 logistic regression whose C of
    `C_VALUES` is chosen by 5-fold stratified cross-validation on the training rows (the seed's settings; solver
    "saga" as the seed, or "liblinear": the same objective, several times faster). `true_positive`: (n,) bool,
    IoU_adj > 0. With fewer than 2 rows of either outcome, the training rate for every row (a `DummyClassifier`;
    fitted on one outcome, its predict_proba has that outcome's column only). P(true positive) is the predict_proba
    column of class 1."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    features = np.asarray(features, dtype=np.float64)
    true_positive = np.asarray(true_positive, dtype=bool)
    rarer = min(int(true_positive.sum()), int((~true_positive).sum()))
    if len(features) == 0:
        raise ValueError("the meta classifier has no component to fit on")
    if rarer < 2:
        return DummyClassifier(strategy="prior").fit(features, true_positive.astype(int))
    model = make_pipeline(StandardScaler(), _logistic_regression(min(5, rarer), seed, solver))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # saga at tol 1e-3, max_iter 1000, as the seed
        model.fit(features, true_positive.astype(int))
    return model


def _true_positive_probability(model, features: np.ndarray) -> np.ndarray:
    if len(features) == 0:
        return np.zeros(0)
    probabilities = model.predict_proba(features)
    classes = list(model.classes_)
    return probabilities[:, classes.index(1)] if 1 in classes else np.zeros(len(features))


def score_images(images: Sequence[ImageComponents], *, seed: int = 0, both_halves: bool = False, solver: str = "saga"):
    """P(true positive) of the components of the search half of `images` (every image with `both_halves`: a second
    classifier fitted on the search half scores the training half); `solver` as `fit_meta_classifier`'s.

    Returns (scores, info): scores[i] (n_i,) float64, NaN where not scored (a training-half image, a component
    without inner pixels); info: the split, and per fitted classifier its chosen C (None for a constant one), the
    number of training components and the accuracy on the components it scored. `score_table` on the images' table.
    """
    if any(image.iou_adj is None for image in images):
        raise ValueError("every image needs its IoU_adj (component_metrics with a given label map)")
    scores, info = score_table(ComponentTable.of(images), seed=seed, both_halves=both_halves, solver=solver)
    ends = np.cumsum([len(image.classes) for image in images])
    return np.split(scores, ends[:-1]) if len(images) else [], info


def score_table(
    table: ComponentTable,
    *,
    seed: int = 0,
    both_halves: bool = False,
    solver: str = "saga",
    max_fit_rows: Optional[int] = None,
    batch_rows: int = 100_000,
):
    """`score_images` on a `ComponentTable` (e.g. memory-mapped shards): (scores (n,) float64 per row, NaN where not
    scored; info). The classifier fits on the training half's scorable rows, a seeded sample of `max_fit_rows` when
    there are more (None: all; info says so), and scores `batch_rows` rows at a time."""
    if np.isnan(np.asarray(table.rows["iou_adj"])).any():
        raise ValueError("every image needs its IoU_adj (component_metrics with a given label map)")
    train, search = split_images(table.num_images, seed)
    positions, scorable = table.image_positions, table.scorable
    true_positive = np.asarray(table.rows["iou_adj"]) > 0
    features = table.rows["features"]
    scores = np.full(len(table), np.nan)
    fits = []
    for fit_on, score_on in ((train, search), (search, train))[: 2 if both_halves else 1]:
        fit_rows = np.flatnonzero(np.isin(positions, fit_on) & scorable)
        available = len(fit_rows)
        if max_fit_rows is not None and available > max_fit_rows:
            fit_rows = np.sort(np.random.default_rng(seed).choice(fit_rows, max_fit_rows, replace=False))
        model = fit_meta_classifier(np.asarray(features[fit_rows]), true_positive[fit_rows], seed, solver)
        score_rows = np.flatnonzero(np.isin(positions, score_on) & scorable)
        for start in range(0, len(score_rows), batch_rows):
            batch = score_rows[start : start + batch_rows]
            scores[batch] = _true_positive_probability(model, np.asarray(features[batch]))
        correct = int(np.sum((scores[score_rows] > 0.5) == true_positive[score_rows]))
        total = len(score_rows)
        chosen = getattr(model[-1], "C_", None) if hasattr(model, "steps") else None
        fits.append(
            {
                "C": None if chosen is None else float(np.ravel(chosen)[0]),
                "train_components": len(fit_rows),
                "scored_components": total,
                "accuracy": correct / total if total else float("nan"),
                **({"sampled_from": available} if len(fit_rows) < available else {}),
            }
        )
    info = {"train_images": train.tolist(), "search_images": search.tolist(), "classifiers": fits}
    return scores, info
