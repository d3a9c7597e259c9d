"""The review page of an instance audit: a static HTML report (no server: open OUTPUT/review/index.html in a
browser) with the summary, the estimated noise, and a gallery of the issues that a labeller sorts (combined score, or
per type by rank), filters (by type, by given or suggested class), accepts or rejects, and exports as the dataset's
COCO json with only the accepted fixes applied (a class issue takes its suggested class, `original_category_id`
keeping the given one; a mask issue is marked `review.bad_mask`; a missing object is added as a box-only annotation
with `added_by_review`). Decisions stay in the browser (localStorage) until exported.

Files in the folder: index.html and review.js (review_assets/, the same for every run), data.js (the summary and the
first `limit` issue rows by combined score, which interleaves the types), dataset.js (the dataset's json, which the
export edits; written streamed) and crops/ (a JPEG around each issue's box, CROP_SIZE pixels, boxes drawn by the
page). The page renders its cards a page at a time, so 10,000 issues open and filter quickly
(benchmarks/bench_review_page.py measures it in headless Chromium).
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from ..utils.files import save_json_streamed, write_atomic

__all__ = ["CROP_SIZE", "DEFAULT_LIMIT", "REVIEW_DIR", "write_review_page"]

ASSETS = Path(__file__).with_name("review_assets")
REVIEW_DIR = "review"
CROP_SIZE = 208  # pixels of a crop's longer side: the page's card view
DEFAULT_LIMIT = 10_000
_MARGIN = 0.5  # context around a box, as a share of its longer side


def write_review_page(
    folder,
    coco: dict,
    issues: Sequence[dict],
    summary: dict,
    class_names: Mapping[int, str],
    image_files: Optional[Mapping] = None,
    *,
    run: str,
    limit: int = DEFAULT_LIMIT,
    progress: bool = True,
) -> Path:
    """Write the page into `folder` (made if missing): `issues` are the report's rows in rank order (the first
    `limit` are shown; read twice, once for the crops and once streamed into data.js, so no row is held), `class_names`
    {category id: name}, `image_files` {image id: file} for the crops (None or a missing image: a card without one),
    `run` the key the page keeps its decisions under. Returns index.html."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for asset in ("index.html", "review.js"):
        shutil.copyfile(ASSETS / asset, folder / asset)
    shown = min(limit, len(issues))
    annotations = coco["annotations"]
    crops = _write_crops(folder, (issues[i] for i in range(shown)), annotations, image_files or {}, progress)
    payload = {
        "run": run,
        "summary": summary,
        "classes": {str(k): v for k, v in class_names.items()},
        "shown": shown,
        "issues": (_page_row(issues[i], annotations, crops) for i in range(shown)),
    }
    save_json_streamed(payload, folder / "data.js", prefix=b"window.REVIEW = ", suffix=b";\n")
    dataset = {**coco, "annotations": iter(annotations)}
    save_json_streamed(dataset, folder / "dataset.js", prefix=b"window.DATASET = ", suffix=b";\n")
    return folder / "index.html"


def _issue_bbox(issue: dict, annotations: list) -> list:
    """XYWH of the issue's object: the missing object's detection box, else the annotation's box."""
    return issue["bbox"] if issue["annotation_id"] is None else annotations[issue["annotation_index"]]["bbox"]


def _page_row(issue: dict, annotations: list, crops: Mapping[int, dict]) -> dict:
    return {
        "rank": issue["rank"],
        "reasons": issue["reasons"],
        "ranks": issue["ranks"],
        "ann": issue["annotation_id"],
        "image": issue["image_id"],
        "given": issue["given_category_id"],
        "suggested": issue["suggested_category_id"],
        "relabel": issue["relabel"],
        "score": issue["score"],
        "given_prob": issue.get("given_prob"),
        "suggested_prob": issue.get("suggested_prob"),
        "mask_iou": issue.get("mask_iou"),
        "det_score": issue.get("detection_score"),
        "bbox": [float(v) for v in _issue_bbox(issue, annotations)],
        "crop": None,
        **crops.get(issue["rank"], {}),
    }


def _write_crops(folder: Path, issues: Iterable[dict], annotations: list, image_files: Mapping, progress: bool) -> dict:
    """A JPEG around each issue's box (each image read once) -> {rank: {"crop": path, "crop_size", "box_in_crop"}}."""
    by_image = defaultdict(list)
    if image_files:
        for issue in issues:
            if issue["image_id"] in image_files:
                by_image[issue["image_id"]].append((issue["rank"], _issue_bbox(issue, annotations)))
    crops = {}
    for image_id, chosen in tqdm(by_image.items(), desc="review crops", disable=not progress or not by_image):
        image = cv2.imread(str(image_files[image_id]), cv2.IMREAD_COLOR)
        if image is None:
            continue
        height, width = image.shape[:2]
        for rank, (x, y, w, h) in chosen:
            margin = _MARGIN * max(w, h) + 4
            x0, y0 = int(max(0, np.floor(x - margin))), int(max(0, np.floor(y - margin)))
            x1, y1 = int(min(width, np.ceil(x + w + margin))), int(min(height, np.ceil(y + h + margin)))
            if x1 <= x0 or y1 <= y0:
                continue
            scale = CROP_SIZE / max(x1 - x0, y1 - y0)
            size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
            crop = cv2.resize(image[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
            ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
            if not ok:
                continue
            name = f"crops/{rank:06d}.jpg"
            write_atomic(folder / name, encoded.tobytes())
            crops[rank] = {
                "crop": name,
                "crop_size": list(size),
                "box_in_crop": [
                    round((x - x0) * scale, 1),
                    round((y - y0) * scale, 1),
                    round(w * scale, 1),
                    round(h * scale, 1),
                ],
            }
    return crops
