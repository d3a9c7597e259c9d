#!/usr/bin/env python
"""Forward + backward time of every noisy_seg loss relative to F.cross_entropy.

Classification: ROI-head-sized logits (512 RoIs x 16 images, 81 classes). Dense: (4, 19, 128, 256) by default;
the Cityscapes training size is --dense-shape 8 19 512 1024.
    python benchmarks/bench_losses.py [--device cuda] [--threads 1] [--min-run-time 1.0] [--dense-shape N C H W]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch.utils.benchmark import Timer

from noisy_seg.engine.benchmarking import alternating_medians, print_ratios
from noisy_seg.losses import build_loss

CLASSIFICATION = [
    ("ce", {}),
    ("sce", {"alpha": 1.0, "beta": 0.1}),
    ("rce", {}),
    ("mae", {}),
    ("nce", {}),
    ("nce_rce", {}),
    ("gce", {"q": 0.3}),
    ("combination", {"bg_index": 80}),
    ("combination", {"bg_index": 80, "pon_threshold": 6.0}),
    ("focal", {}),
]
DENSE = [
    ("ce", {}),
    ("cce", {}),
    ("focal", {}),
    ("dice", {}),
    ("ce_dice", {}),
    ("lovasz", {}),
    ("lovasz", {"per_image": True}),
    ("region_aware", {"num_classes": 19}),  # train mode: the confusion EMA update too; --dense-shape needs C = 19
    ("sce", {"alpha": 0.8, "beta": 0.2}),
    ("gce", {"q": 0.4}),
    ("nce_rce", {}),
    ("combination", {"bg_index": (0,), "ignore_index": 255}),  # the dense sub-task split, background = class 0
]


def time_ms(loss_fn, logits, targets, threads, min_run_time, device):
    def step():
        logits.grad = None
        loss_fn(logits, targets).backward()

    step()  # warm-up (allocations, lazy init)
    if device.type == "cuda":
        torch.cuda.synchronize()
    timer = Timer(
        stmt="step(); sync()",
        globals={"step": step, "sync": torch.cuda.synchronize if device.type == "cuda" else (lambda: None)},
        num_threads=threads,
    )
    measurement = timer.blocked_autorange(min_run_time=min_run_time)
    # (median, best block): on a shared machine the best block is the steadier figure
    return measurement.median * 1e3, min(measurement.times) * 1e3


def run_alternating(title, cases, logits, targets, baseline, args):
    """Every loss once per round, rounds alternating, median per loss: drift on a shared machine hits all alike."""

    def step(loss_fn):
        def once():
            logits.grad = None
            start = time.perf_counter()
            loss_fn(logits, targets).backward()
            return time.perf_counter() - start

        return once

    variants = {"F.cross_entropy": step(baseline)}
    for name, kwargs in cases:
        label = name + ("" if not kwargs else " " + ",".join(f"{k}={v}" for k, v in kwargs.items()))
        variants[label] = step(build_loss(name, **kwargs).to(logits.device))
    torch.set_num_threads(args.threads)
    for once in variants.values():
        once()  # warm-up
    medians = alternating_medians(variants, args.rounds)
    print(
        f"\n{title}: logits {tuple(logits.shape)} on {logits.device}, {args.threads} thread(s), forward+backward, "
        f"median of {args.rounds} alternating rounds"
    )
    print_ratios(medians, "ms", width=42)


def run_table(title, cases, logits, targets, baseline, args, device):
    if args.rounds:
        return run_alternating(title, cases, logits, targets, baseline, args)
    base_median, base_best = time_ms(baseline, logits, targets, args.threads, args.min_run_time, device)
    print(f"\n{title}: logits {tuple(logits.shape)} on {device}, {args.threads} thread(s), forward+backward")
    print(f"{'loss':<42}{'median ms':>10}{'best ms':>10}{'x CE (best)':>12}")
    print(f"{'F.cross_entropy':<42}{base_median:>10.3f}{base_best:>10.3f}{1.0:>12.2f}")
    for name, kwargs in cases:
        loss_fn = build_loss(name, **kwargs).to(device)
        median, best = time_ms(loss_fn, logits, targets, args.threads, args.min_run_time, device)
        label = name + ("" if not kwargs else " " + ",".join(f"{k}={v}" for k, v in kwargs.items()))
        print(f"{label:<42}{median:>10.3f}{best:>10.3f}{best / base_best:>12.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--min-run-time", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--dense-shape", type=int, nargs=4, default=(4, 19, 128, 256), metavar=("N", "C", "H", "W"))
    parser.add_argument("--skip-classification", action="store_true")
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="time every loss once per round over this many alternating rounds (median), instead of "
        "torch's Timer per loss: steadier on a shared machine",
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)

    logits = (torch.randn(512 * 16, 81, device=device) * 3).requires_grad_(True)
    targets = torch.randint(0, 81, (512 * 16,), device=device)
    targets[: 512 * 12] = 80  # ~3:1 background:foreground RoIs, as the ROI sampler gives
    if not args.skip_classification:
        run_table("classification", CLASSIFICATION, logits, targets, lambda z, y: F.cross_entropy(z, y), args, device)

    n, c, h, w = args.dense_shape
    dense_logits = (torch.randn(n, c, h, w, device=device) * 3).requires_grad_(True)
    dense_targets = torch.randint(0, c, (n, h, w), device=device)
    dense_targets[:, : h // 16] = 255
    run_table(
        "dense", DENSE, dense_logits, dense_targets, lambda z, y: F.cross_entropy(z, y, ignore_index=255), args, device
    )


if __name__ == "__main__":
    main()
