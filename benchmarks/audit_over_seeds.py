#!/usr/bin/env python
"""The instance audit (find-label-errors' one-row-per-annotation ranking, its corrections, its noise estimate and
quality gate) measured against injected noise over seeds, beside cleanlab's ranking of the same predictions.

    noisy-seg label-error-evidence --parts instance --seed 0 --jobs 2 --output output/audit_evidence/seed0   # x3
    python benchmarks/audit_over_seeds.py output/audit_evidence/seed0 output/audit_evidence/seed1 \\
        output/audit_evidence/seed2 --output output/audit_evidence/over_seeds.md

Each seed folder is a label-error-evidence run (instance part): noisy copies sym40 / coco_n_medium / drop20 of the toy
train json, each audited out of sample by 2 fold models. Per seed and noise, from issues.json and scores.json:
- class flips (sym40): precision@k of the class issues in the audit's order (calibrated self-confidence, per-class
  thresholds), beside cleanlab's self-confidence ranking of every annotation (`cleanlab.rank`, the same posteriors);
- bad masks (coco_n_medium): precision@k of the mask issues in the audit's order (mask IoU) against the spatial-noise
  tags;
- missing objects (drop20): precision@k of the missing-object rows against the dropped annotations (a detection whose
  box has IoU >= 0.5 with a dropped annotation of its image);
- the combined order's precision@k over every reason (a row counts when any of its reasons is a real error);
- the default correction policy's restored / broken counts, the noise estimate against the injected rate, and the
  quality gate's worst held-out mask AP.
Mean +- std over the seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from noisy_seg.label_errors.filter import box_iou
from noisy_seg.pseudo_labels.label_issues import spatially_noised

KS = (10, 50)


def precision_at(truth: list, k: int):
    return float(np.mean(truth[:k])) if len(truth) >= k else None


def one_run(folder: Path, clean_json: dict) -> dict:
    issues = json.loads((folder / "issues.json").read_text())
    scores = json.loads((folder / "scores.json").read_text())
    rows, summary = issues["issues"], issues["summary"]
    flipped = {s["annotation_id"]: s["given_category_id"] != s["clean_category_id"] for s in scores}
    spatial = {s["annotation_id"]: s.get("noise") is not None and spatially_noised(s["noise"]) for s in scores}
    kept = {s["annotation_id"] for s in scores}
    dropped = {}
    for ann in clean_json["annotations"]:
        if ann["id"] not in kept and not ann.get("iscrowd"):
            dropped.setdefault(ann["image_id"], []).append(ann["bbox"])

    def true_reason(row, reason) -> bool:
        if reason == "class":
            return flipped[row["annotation_id"]]
        if reason == "mask":
            return spatial[row["annotation_id"]]
        boxes = dropped.get(row["image_id"], [])
        return bool(boxes) and bool((box_iou([row["bbox"]], boxes) >= 0.5).any())

    found = {}
    for reason in ("class", "mask", "missing"):
        ordered = sorted((r for r in rows if reason in r["reasons"]), key=lambda r: r["ranks"][reason])
        truth = [true_reason(r, reason) for r in ordered]
        found[reason] = {k: precision_at(truth, k) for k in KS}
    combined = [any(true_reason(r, reason) for reason in r["reasons"]) for r in rows]
    cleanlab_order = sorted(scores, key=lambda s: s["self_confidence"])
    cleanlab_truth = [flipped[s["annotation_id"]] for s in cleanlab_order]
    corrections = summary["corrections"].get("label_noise", {})
    estimate = summary.get("noise_estimate") or {}
    return {
        **{f"{reason} P@{k}": found[reason][k] for reason in found for k in KS},
        **{f"combined P@{k}": precision_at(combined, k) for k in KS},
        **{f"cleanlab class P@{k}": precision_at(cleanlab_truth, k) for k in KS},
        "relabelled": summary["corrections"]["relabelled"],
        "restored": corrections.get("restored"),
        "broken": corrections.get("broken"),
        "noise rate estimated": estimate.get("noise_rate"),
        "noise rate injected": (estimate.get("injected") or {}).get("noise_rate"),
        "transition error": (estimate.get("injected") or {}).get("transition_error"),
        "worst held-out mask AP": summary["quality_gate"]["worst"],
    }


def mean_std(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{np.mean(values):.3f} +- {np.std(values, ddof=1):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seeds", nargs="+", help="label-error-evidence output folders, one per seed")
    parser.add_argument("--clean-json", help="the clean train json (default: the toy set's)")
    parser.add_argument("--output", help="write the markdown table here too")
    args = parser.parse_args(argv)
    if args.clean_json is None:
        from noisy_seg.data.datasets.builtin import toy_data_root
        from noisy_seg.data.datasets.toy_shapes import coco_paths

        args.clean_json = coco_paths(toy_data_root(), "train")[0]
    clean = json.loads(Path(args.clean_json).read_text())
    results = {}
    for seed_folder in args.seeds:
        for run in sorted((Path(seed_folder) / "instance").iterdir()):
            if run.is_dir() and (run / "issues.json").is_file():
                results.setdefault(run.name, []).append(one_run(run, clean))
    lines = [f"# The instance audit over {len(args.seeds)} seeds (mean +- std)", ""]
    for noise, runs in sorted(results.items()):
        lines += [f"## {noise} ({len(runs)} seeds)", "", "| measure | value |", "|---|---|"]
        for key in runs[0]:
            lines.append(f"| {key} | {mean_std([r[key] for r in runs])} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
