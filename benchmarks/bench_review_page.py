#!/usr/bin/env python
"""How fast the review page of an instance audit opens and filters in a real browser (headless Chromium through
selenium and Debian's chromium + chromium-driver), against the number of issues it holds.

    python benchmarks/bench_review_page.py                      # 1,000 and 10,000 issues
    python benchmarks/bench_review_page.py --issues 10000 50000

No model and no images: a synthesized dataset (8 classes, 5 annotations per image) and issue rows of every type
(noisy_seg.pseudo_labels.review_page.write_review_page, as find-label-errors writes it, without crops). Measured by
the page itself (performance.now(), window.REVIEW_TIMINGS): the time from navigation to the first cards drawn, and
the time to re-filter (one class chosen) and re-sort (mask issues by rank). The target: 10,000 issues without lag
(under 100 ms a filter).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

CLASSES = 8


def synthesize(count: int, seed: int = 0) -> tuple[dict, list]:
    """(a COCO dict, `count` issue rows in rank order): a third class issues, a third mask, a third missing."""
    import numpy as np

    rng = np.random.default_rng(seed)
    annotations_count = max(count, 10)
    images = [
        {"id": i + 1, "file_name": f"{i}.png", "height": 128, "width": 128} for i in range(annotations_count // 5)
    ]
    annotations = [
        {"id": n + 1, "image_id": n // 5 + 1, "category_id": int(rng.integers(1, CLASSES + 1)), "bbox": [8, 8, 20, 20]}
        for n in range(annotations_count)
    ]
    coco = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": k, "name": f"c{k}"} for k in range(1, 9)],
    }
    kinds = ("class", "mask", "missing")
    rows = []
    for rank in range(1, count + 1):
        kind = kinds[rank % 3]
        ann = annotations[rank - 1]
        rows.append(
            {
                "rank": rank,
                "reasons": [kind],
                "ranks": {kind: rank // 3 + 1},
                "annotation_id": None if kind == "missing" else ann["id"],
                "annotation_index": rank - 1,
                "image_id": ann["image_id"],
                "given_category_id": None if kind == "missing" else ann["category_id"],
                "suggested_category_id": None if kind == "mask" else ann["category_id"] % CLASSES + 1,
                "relabel": False,
                "score": rank / count,
                "given_prob": 0.1,
                "suggested_prob": 0.6,
                "mask_iou": 0.2,
                "detection_score": 0.9,
                "bbox": [40.0, 40.0, 16.0, 16.0],
            }
        )
    return coco, rows


def browser(download_dir: Path):
    """A headless Chromium (Debian's chromium and chromedriver) that downloads into `download_dir`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(download_dir), "download.prompt_for_download": False}
    )
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def measure(count: int, folder: Path) -> dict:
    from selenium.webdriver.support.ui import Select

    from noisy_seg.pseudo_labels.review_page import write_review_page

    coco, rows = synthesize(count)
    summary = {"issues": {"total": count, "annotations": count, "class": 0, "mask": 0, "missing": 0}, "scored": count}
    summary.update(images=len(coco["images"]))
    page = write_review_page(
        folder, coco, rows, summary, {k: f"c{k}" for k in range(1, 9)}, run="bench", progress=False
    )
    driver = browser(folder)
    try:
        driver.get(page.resolve().as_uri())
        first = driver.execute_script("return window.REVIEW_TIMINGS.first_render_ms")
        cards = len(driver.find_elements("css selector", ".card"))
        Select(driver.find_element("id", "class")).select_by_value("3")
        filtered = driver.execute_script("return window.REVIEW_TIMINGS.last_filter_ms")
        Select(driver.find_element("id", "order")).select_by_value("mask")
        sorted_ms = driver.execute_script("return window.REVIEW_TIMINGS.last_filter_ms")
        count_text = driver.find_element("id", "count").text
    finally:
        driver.quit()
    return {
        "issues": count,
        "first_render_ms": first,
        "filter_ms": filtered,
        "sort_ms": sorted_ms,
        "cards": cards,
        "count_text": count_text,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issues", type=int, nargs="+", default=[1000, 10_000])
    args = parser.parse_args(argv)
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        raise SystemExit(
            "error: needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )
    results = []
    for count in args.issues:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            results.append({**measure(count, Path(folder)), "seconds": time.perf_counter() - start})
    print("| issues | first cards drawn (ms from navigation) | filter by class (ms) | sort mask issues (ms) |")
    print("|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['issues']:,} | {r['first_render_ms']:.0f} | {r['filter_ms']:.1f} | {r['sort_ms']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
