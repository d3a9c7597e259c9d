"""The seed's benchmark: dropped components as the errors to find, the regions, the counts at each threshold and
the PR curve (auc.py's area)."""

from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from ..filter import box_iou
from .rank import ImageComponents, connected_components

THRESHOLDS = np.linspace(0.0, 1.0, 21)
MIN_ERROR_SIZE = 250  # pixels: benchmark regions and proposals below it are left out
IOU_THRESHOLD = 0.25


def drop_components(
    label_map,
    num_classes: int,
    fraction: float,
    rng: np.random.Generator,
    *,
    classes: Optional[Sequence[int]] = None,
    fill: int = 0,
) -> np.ndarray:
    """A copy of `label_map` whose 8-connected components of `classes` (None: every class) are each dropped with
    probability `fraction`: their pixels take `fill` (a background class, or the ignore label for void)."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    components, component_classes = connected_components(label_map, num_classes)
    dropped = rng.random(len(component_classes)) < fraction
    if classes is not None:
        dropped &= np.isin(component_classes, classes)
    result = np.array(label_map, copy=True)
    result[np.r_[False, dropped][components]] = fill
    return result


def error_regions(clean, given, num_classes: int, *, min_size: int = MIN_ERROR_SIZE):
    """The label errors of `given` against `clean` as the seed's benchmark sees them: the 8-connected regions where
    they differ, those under `min_size` pixels left out, split into the 8-connected components of each clean class.
    Returns (regions int32 (H, W), 0 for none; classes (r,))."""
    clean, given = np.asarray(clean), np.asarray(given)
    differ = (clean != given).view(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(differ, connectivity=8, ltype=cv2.CV_32S)
    kept = np.r_[False, stats[1:, cv2.CC_STAT_AREA] >= min_size][labels]
    regions, classes = connected_components(np.where(kept, clean, -1), num_classes)
    return regions, classes


def image_proposals(image: ImageComponents, scores: np.ndarray):
    """One image's proposals as benchmark input: (map int32 (H, W), 0 for none, else 1..p; classes (p,); scores
    (p,)): its candidate components with a score > 0 (the masks `component_metrics` kept)."""
    proposals = np.zeros(image.shape, np.int32)
    chosen = [j for j in sorted(image.masks) if scores[j] > 0]
    for number, j in enumerate(chosen, start=1):
        x0, y0, x1, y1 = image.boxes[j]
        proposals[y0:y1, x0:x1][image.masks[j]] = number
    return proposals, image.classes[chosen].astype(np.int64), np.asarray(scores, np.float64)[chosen]


def benchmark_counts(
    regions,
    region_classes,
    proposals,
    proposal_classes,
    proposal_scores,
    *,
    classes: Optional[Sequence[int]] = None,
    thresholds=THRESHOLDS,
    iou_threshold: float = IOU_THRESHOLD,
    min_size: int = MIN_ERROR_SIZE,
):
    """True positives, false positives and false negatives (each (T,) int64) of one image at each threshold.

    regions / proposals: int (H, W) maps, 0 for none, else 1..r / 1..p, with their classes (and the proposals'
    scores). Only classes of `classes` (None: all) count, and proposals of at least `min_size` pixels. At threshold t
    the proposals scoring above t are active; a region whose IoU_adj with the active proposals of its class is at
    least `iou_threshold` is a true positive, else a false negative; an active proposal whose IoU_adj with the
    regions of its class is below it is a false positive (the seed's auc.py).
    """
    regions, proposals = np.asarray(regions), np.asarray(proposals)
    region_classes, proposal_classes = np.asarray(region_classes), np.asarray(proposal_classes)
    count_r, count_p = len(region_classes), len(proposal_classes)
    region_size = np.bincount(regions.ravel(), minlength=count_r + 1)
    proposal_size = np.bincount(proposals.ravel(), minlength=count_p + 1)
    keep_r = np.r_[False, np.ones(count_r, bool) if classes is None else np.isin(region_classes, classes)]
    keep_p = np.r_[
        False,
        (np.ones(count_p, bool) if classes is None else np.isin(proposal_classes, classes))
        & (proposal_size[1:] >= min_size),
    ]
    class_r, class_p = np.r_[-1, region_classes], np.r_[-2, proposal_classes]
    both = (regions > 0) & (proposals > 0)
    r_pix, p_pix = regions[both], proposals[both]
    same = (class_r[r_pix] == class_p[p_pix]) & keep_r[r_pix] & keep_p[p_pix]
    pairs, overlap = np.unique(r_pix[same].astype(np.int64) * (count_p + 1) + p_pix[same], return_counts=True)
    pair_r, pair_p = np.divmod(pairs, count_p + 1)
    covered_p = np.bincount(pair_p, weights=overlap, minlength=count_p + 1)  # in regions of its class
    miss_p = proposal_size - covered_p
    score = np.r_[-np.inf, np.asarray(proposal_scores, np.float64)]
    tp, fp, fn = (np.zeros(len(thresholds), np.int64) for _ in range(3))
    for k, t in enumerate(thresholds):
        active = keep_p & (score > t)
        on = active[pair_p]
        inter_r = np.bincount(pair_r, weights=overlap * on, minlength=count_r + 1)
        union_r = region_size + np.bincount(pair_r, weights=miss_p[pair_p] * on, minlength=count_r + 1)
        iou_r = np.divide(inter_r, union_r, out=np.zeros(count_r + 1), where=union_r > 0)
        tp[k] = np.count_nonzero(keep_r & (iou_r >= iou_threshold))
        fn[k] = np.count_nonzero(keep_r) - tp[k]
        miss_r = region_size - inter_r
        union_p = proposal_size + np.bincount(pair_p, weights=miss_r[pair_r], minlength=count_p + 1)
        iou_p = np.divide(covered_p, union_p, out=np.zeros(count_p + 1), where=union_p > 0)
        fp[k] = np.count_nonzero(active & (iou_p < iou_threshold))
    return tp, fp, fn


def pr_curve(tp, fp, fn, thresholds=THRESHOLDS) -> dict:
    """Precision, recall and F1 per threshold from counts summed over images, and the area under the PR curve as
    the seed's auc.py computes it: one point per distinct recall (the highest threshold's), then (0, 0) before and
    (1, the last precision) after, trapezoids between."""
    tp, fp, fn = (np.asarray(x, np.float64) for x in (tp, fp, fn))
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=tp + fp > 0)
    recall = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=tp + fn > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=precision + recall > 0)
    points = {}
    for p, r in zip(precision, recall):
        points[float(r)] = float(p)  # a later (higher) threshold replaces an earlier one at the same recall
    recalls = [0.0] + sorted(points) + [1.0]
    precisions = [0.0] + [points[r] for r in sorted(points)] + [points[max(points)] if points else 0.0]
    area = sum((r1 - r0) * (p0 + p1) / 2 for r0, r1, p0, p1 in zip(recalls, recalls[1:], precisions, precisions[1:]))
    return {
        "thresholds": [float(t) for t in thresholds],
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "tp": tp.astype(int).tolist(),
        "fp": fp.astype(int).tolist(),
        "fn": fn.astype(int).tolist(),
        "pr_auc": float(area),
    }


def evaluate_proposals(
    proposals: dict, clean, given, images: Sequence[int], num_classes: int, background: int = 0
) -> dict:
    """The seed's benchmark over `images` (indices into the (N, H, W) `clean` and `given` label maps): the error
    regions where they differ, each found by a proposal of its class (`benchmark_counts`), summed into one PR curve
    (`pr_curve`) plus the number of regions. proposals: {image index: (component map, classes, scores)}, as
    `image_proposals` gives them; every class but `background` is an object class."""
    objects = [c for c in range(num_classes) if c != background]
    totals = np.zeros((3, len(THRESHOLDS)), np.int64)
    regions = 0
    for i in images:
        region_map, region_classes = error_regions(clean[i], given[i], num_classes)
        regions += len(region_classes)
        totals += np.array(benchmark_counts(region_map, region_classes, *proposals[i], classes=objects))
    return {**pr_curve(*totals), "regions": regions}


def injected_noise_found(proposals: Sequence[dict], injected: dict, *, match_iou: float = 0.5) -> dict:
    """Precision and recall of proposals against the components a noise changed (the noisy-label-map manifest's
    record, `injected`: {image key: [{"op", "box" [x, y, w, h], ...}]}; only the searched images' keys). A proposal
    ({"image_id", "bbox" [x0, y0, x1, y1]}) is a true positive when its box has IoU >= `match_iou` with a changed
    component of its image; a component is found when some proposal matches it. Per op too: dilate / erode move a
    boundary that a region proposal rarely outlines, relabel / background / ignore change a whole component."""
    hits, found = 0, {}
    for proposal in proposals:
        components = injected.get(proposal["image_id"], [])
        if not components:
            continue
        x0, y0, x1, y1 = proposal["bbox"]
        overlap = box_iou([[x0, y0, x1 - x0, y1 - y0]], [c["box"] for c in components])[0]
        matched = np.flatnonzero(overlap >= match_iou)
        hits += bool(len(matched))
        for index in matched.tolist():
            found[(proposal["image_id"], index)] = True
    by_op = {}
    for key, components in injected.items():
        for index, component in enumerate(components):
            entry = by_op.setdefault(component["op"], {"components": 0, "found": 0})
            entry["components"] += 1
            entry["found"] += (key, index) in found
    total = sum(entry["components"] for entry in by_op.values())
    return {
        "match_iou": match_iou,
        "proposals": len(proposals),
        "true_positives": hits,
        "precision": hits / len(proposals) if proposals else None,
        "components": total,
        "found": len(found),
        "recall": len(found) / total if total else None,
        "by_op": {op: {**entry, "recall": entry["found"] / entry["components"]} for op, entry in sorted(by_op.items())},
    }
