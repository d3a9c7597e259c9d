#!/usr/bin/env python
"""The mask side of a grid's instance runs, per loss and noise setting: Boundary AP beside mask AP, and the mask
memorization curve at the end of training.

    python benchmarks/grid_mask_metrics.py output/grids/noisy_masks_medium [--baseline bce] [--last 100]

A run whose final evaluation already has "boundary/AP" (configs evaluating with BoundaryAPEvaluator) is read as
it is; any other finished run (a model_final.pth and config.yaml in its folder) is evaluated again, in this
process, with its own config's test set and BoundaryAPEvaluator, once: the result goes to <run>/boundary_ap.json
and is reused after. The memorization columns: over the last `--last` iterations, on the RoIs whose mask the noise
changed, the mean IoU of the predicted mask with the clean mask and with the noisy one (metrics.json's
memorization/mask_iou_with_clean_mask, ..._noisy_mask; none without spatial noise). Writes <grid>/mask_metrics.md:
mean +- std over seeds, and each loss's mask AP and Boundary AP minus the baseline's at the same noise, * where beyond
twice the larger std.
"""

import argparse
import math
import re
from pathlib import Path

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import LazyConfig, instantiate
from detectron2.evaluation import inference_on_dataset
from tqdm import tqdm

from noisy_seg.engine.grid_report import beyond_twice_the_spread, mean_std
from noisy_seg.engine.metrics import final_metrics, read_metrics
from noisy_seg.engine.train_loop import dataset_names, resolve_device
from noisy_seg.evaluation import BoundaryAPEvaluator
from noisy_seg.utils.files import load_json, save_json_atomic, write_atomic

CELL = re.compile(r"^(?P<loss>.+)__(?P<noise>.+)__s(?P<seed>\d+)$")
CLEAN_IOU, NOISY_IOU = "memorization/mask_iou_with_clean_mask", "memorization/mask_iou_with_noisy_mask"
COLUMNS = ("segm/AP", "boundary/AP", "clean", "noisy")


def evaluate_run(folder: Path) -> dict:
    """{"segm/AP", "boundary/AP"} of a finished run's final model on its config's test set."""
    cfg = LazyConfig.load(str(folder / "config.yaml"))
    model = instantiate(cfg.model).to(resolve_device(cfg)).eval()
    DetectionCheckpointer(model).load(str(folder / "model_final.pth"))
    loader = instantiate(cfg.dataloader.test)
    evaluator = BoundaryAPEvaluator(dataset_names(cfg.dataloader.test)[0], output_dir=None)
    with torch.no_grad():
        results = inference_on_dataset(model, loader, evaluator)
    return {"segm/AP": results["segm"]["AP"], "boundary/AP": results["boundary"]["AP"]}


def run_metrics(folder: Path) -> dict | None:
    """None for a run the grid has not finished (an interrupted run may have evaluated midway)."""
    status = folder / "run.json"
    if status.exists() and not load_json(status).get("finished", False):
        return None
    metrics = final_metrics(folder)
    if "boundary/AP" in metrics:
        return {"segm/AP": metrics["segm/AP"], "boundary/AP": metrics["boundary/AP"]}
    cached = folder / "boundary_ap.json"
    if cached.exists():
        return load_json(cached)
    if not (folder / "model_final.pth").exists() or not (folder / "config.yaml").exists():
        return None  # not finished
    result = evaluate_run(folder)
    save_json_atomic(result, cached)
    return result


def memorization(folder: Path, last: int) -> dict:
    """Mean IoU of the predicted masks with the clean and the noisy masks over the run's last `last` iterations."""
    rows = read_metrics(folder / "metrics.json")
    end = max((row.get("iteration", 0) for row in rows), default=0)
    result = {}
    for key, name in ((CLEAN_IOU, "clean"), (NOISY_IOU, "noisy")):
        values = [row[key] for row in rows if key in row and row.get("iteration", 0) > end - last]
        result[name] = sum(values) / len(values) if values else math.nan
    return result


def fmt(mean: float, std: float, digits: int = 1) -> str:
    return "-" if math.isnan(mean) else f"{mean:.{digits}f} +- {std:.{digits}f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", type=Path, help="a grid's output folder (tools/run_grid.py)")
    parser.add_argument("--baseline", default="bce", help="the loss the others are compared with (default bce)")
    parser.add_argument("--last", type=int, default=100, help="iterations the memorization columns average over")
    args = parser.parse_args(argv)
    cells = sorted(p for p in args.grid.iterdir() if p.is_dir() and CELL.match(p.name))
    values: dict[tuple[str, str], dict[str, list[float]]] = {}
    for folder in tqdm(cells, desc="runs", unit="run"):
        metrics = run_metrics(folder)
        if metrics is None:
            continue
        match = CELL.match(folder.name)
        group = values.setdefault((match["loss"], match["noise"]), {column: [] for column in COLUMNS})
        for key, value in {**metrics, **memorization(folder, args.last)}.items():
            if not math.isnan(value):
                group[key].append(value)
    lines = [
        f"# The mask side of {args.grid}",
        "",
        f"`python benchmarks/grid_mask_metrics.py {args.grid}`: mean +- std over seeds (n); Boundary AP (Cheng et al. "
        "2021, dilation ratio 0.02) beside mask AP; vs the baseline's mask AP / Boundary AP at the same noise, * "
        "where beyond twice the larger std; the predicted masks' IoU with the clean and the noisy masks of the RoIs "
        f"the noise changed, over the last {args.last} iterations.",
        "",
        f"| loss | noise | n | mask AP | Boundary AP | vs {args.baseline}: mask / Boundary AP | IoU w/ clean mask | "
        "IoU w/ noisy mask |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (loss, noise), group in sorted(values.items(), key=lambda item: (item[0][1], item[0][0] != args.baseline)):
        segm, boundary = mean_std(group["segm/AP"]), mean_std(group["boundary/AP"])
        clean, noisy = mean_std(group["clean"]), mean_std(group["noisy"])
        base = values.get((args.baseline, noise))
        versus = ""
        if base is not None and loss != args.baseline:
            gaps = []
            for column, (mean, std) in (("segm/AP", segm), ("boundary/AP", boundary)):
                reference = mean_std(base[column])
                gap = mean - reference[0]
                gaps.append(f"{gap:+.1f}" + ("*" if beyond_twice_the_spread(gap, (std, reference[1])) else ""))
            versus = " / ".join(gaps)
        ious = f"{fmt(*clean, digits=3)} | {fmt(*noisy, digits=3)}"
        lines.append(
            f"| {loss} | {noise} | {len(group['segm/AP'])} | {fmt(*segm)} | {fmt(*boundary)} | {versus} | {ious} |"
        )
    text = "\n".join(lines) + "\n"
    write_atomic(args.grid / "mask_metrics.md", text.encode())
    print(text)


if __name__ == "__main__":
    main()
