#!/usr/bin/env python
"""Instance evidence throughput vs detectron2's `inference_on_dataset` on the same model, data and loader settings
(issue 24's target: >= 0.9x). The evidence does the same forward pass plus the given-box heads on the annotated boxes
(and the mask IoU against the annotated masks), from one backbone pass per image.

    python benchmarks/bench_evidence_throughput.py                        # toy Mask R-CNN, toy_shapes_val, CPU
    python benchmarks/bench_evidence_throughput.py --weights output/toy/mask_rcnn_R18_FPN_ce/model_final.pth
    python benchmarks/bench_evidence_throughput.py --num-gpus 2 --threads 1    # 2 processes (gloo on a CPU)

Both sides see the same images through detectron2's test loader (`--batch-size`, `--num-workers`), the config's test
mapper, in eval mode without gradients; rounds alternate in a shuffled order (noisy_seg.engine.benchmarking) and each
side's median images per second is reported with the ratio ours / detectron2's. Trailing key=value arguments override
the config (e.g. train.device=cuda).
"""

from __future__ import annotations

import argparse
import sys
import time

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

import torch

from detectron2.data import DatasetMapper, build_detection_test_loader
from noisy_seg.engine.ddp import launch_processes
from detectron2.evaluation import DatasetEvaluators, inference_on_dataset
from detectron2.utils import comm

from noisy_seg.data import check_datasets_available
from noisy_seg.engine import load_lazy_config
from noisy_seg.engine.benchmarking import alternating_medians
from noisy_seg.inference import build_model, mapper_settings
from noisy_seg.pseudo_labels.label_issues import collect_instance_evidence, load_instance_dataset
from noisy_seg.utils.errors import tool_exit_status


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", default="configs/toy/mask_rcnn_R18_FPN_ce.py")
    parser.add_argument("--weights", help="a trained checkpoint (default: the config's model as initialized)")
    parser.add_argument("--dataset", default="toy_shapes_val", help="a registered COCO-format dataset")
    parser.add_argument("--images", type=int, default=48, help="the first N images (default 48)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side (default 3)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads per process (default: torch's)")
    parser.add_argument("--num-gpus", type=int, default=1, help="processes (detectron2's launch; default 1)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides, key=value")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    launch_processes(measure, args.num_gpus, dist_url="auto", args=(args,))
    return 0


def measure(args) -> None:
    """Both sides in every process, in the same shuffled order (each its share of the images); the first reports."""
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_lazy_config(args.config_file, args.opts)
    check_datasets_available([args.dataset])
    data = load_instance_dataset(args.dataset, needs_masks=True)
    data.records = data.records[: args.images]
    if args.weights:
        model = build_model(cfg, args.weights)
    else:  # the config's initialization (the pretrained backbone): the same work per image as a trained model
        from detectron2.checkpoint import DetectionCheckpointer
        from detectron2.config import instantiate

        model = instantiate(cfg.model).to(cfg.train.device if torch.cuda.is_available() else "cpu").eval()
        DetectionCheckpointer(model).load(cfg.train.init_checkpoint)
    settings = mapper_settings(cfg)
    mapper = DatasetMapper(is_train=False, augmentations=settings["augmentations"], image_format="BGR")
    loader = build_detection_test_loader(
        data.records, mapper=mapper, batch_size=args.batch_size, num_workers=args.num_workers
    )

    def theirs() -> float:
        start = time.perf_counter()
        inference_on_dataset(model, loader, DatasetEvaluators([]))
        return time.perf_counter() - start

    def ours() -> float:
        start = time.perf_counter()
        collect_instance_evidence(
            model,
            data,
            detect_score=0.5,
            progress=False,
            batch_size=args.batch_size,
            num_workers=args.num_workers,
            **settings,
        )
        return time.perf_counter() - start

    medians = alternating_medians({"detectron2 inference_on_dataset": theirs, "instance evidence": ours}, args.rounds)
    if not comm.is_main_process():
        return
    images = len(data.records)
    print(
        f"{images} images of {args.dataset}, {comm.get_world_size()} process(es), batch {args.batch_size}, "
        f"{args.num_workers} workers, {torch.get_num_threads()} threads per process, {args.rounds} rounds (median):"
    )
    for name, seconds in medians.items():
        print(f"  {name:32s} {images / seconds:7.2f} images/s")
    base, mine = medians.values()
    print(f"  throughput ours / detectron2's: {base / mine:.2f} (target >= 0.9)")


if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
