#!/usr/bin/env python
"""Pseudo labels from a trained model, for pseudo-label training (projects/PseudoLabels; Wang et al. 2022).

    python tools/generate_pseudo_labels.py --config-file projects/PseudoLabels/configs/toy/stage1_cce.py \\
        --weights output/PseudoLabels/toy/stage1_cce/model_final.pth \\
        --dataset toy_shapes_cityscapes_sem_seg_train_weak90 --output output/PseudoLabels/toy/pseudo_labels

--task semantic (default): each image's logits averaged over --scales (default 0.5 0.75 1 1.25 1.5) and, unless
--no-flip, its horizontal flip; argmax over the classes its tags allow (the records' image_tags, or --tag-file: a
json {image id or file stem: [class index or name, ...]}; untagged images allow every class); pixels whose
confidence is below --threshold get the ignore label. Writes OUTPUT/labels/<stem>.png, OUTPUT/confidence/<stem>.png
and OUTPUT/manifest.json (settings, one detectron2 record per image, and the labels' quality against the true maps
when the records keep them), which noisy_seg.data.register_pseudo_label_dataset registers for training.

--task instance: noisy_seg.pseudo_labels.instance.correct_instance_labels (--relabel-threshold,
--mask-iou-threshold).

The model is the config's, built with detectron2's instantiate, with --weights loaded strictly (weights of another
architecture or class count are an error). Trailing key=value arguments override the config as in train_net.py
(e.g. train.device=cpu). An output folder that holds files is refused, except with --resume on the same settings,
which continues an interrupted run without redoing finished images (an empty or cut-off map is redone; a killed
write's temp file is removed).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

from detectron2.utils import comm

from noisy_seg.data import add_register_argument, check_datasets_available, register_from_args  # (+ the toy sets)
from noisy_seg.engine import load_lazy_config, resolve_config_file
from noisy_seg.engine.ddp import add_launch_arguments, check_launch_arguments, launch_from_args
from noisy_seg.engine.train_loop import dataset_names
from noisy_seg.inference import build_model, mapper_settings, on_cpu
from noisy_seg.pseudo_labels.semantic import DEFAULT_SCALES, MANIFEST, generate_pseudo_labels
from noisy_seg.utils.errors import UserInputError, tool_exit_status
from noisy_seg.utils.run_folder import folder_problem

SEMANTIC_FLAGS = {"scales": "--scales", "no_flip": "--no-flip", "threshold": "--threshold", "tag_file": "--tag-file"}
INSTANCE_FLAGS = {"relabel_threshold": "--relabel-threshold", "mask_iou_threshold": "--mask-iou-threshold"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True, help="the LazyConfig the weights were trained with")
    parser.add_argument("--weights", required=True, help="the trained model's checkpoint (.pth)")
    parser.add_argument(
        "--dataset",
        help="a registered detectron2 dataset to label (default: the config's training set, when it names one)",
    )
    parser.add_argument("--output", required=True, help="a new (or empty) folder; with --resume an unfinished one")
    parser.add_argument("--task", choices=("semantic", "instance"), default="semantic")
    parser.add_argument(
        "--scales",
        nargs="+",
        type=float,
        help=f"semantic: image scales whose logits are averaged (default {' '.join(map(str, DEFAULT_SCALES))})",
    )
    parser.add_argument("--no-flip", action="store_true", help="semantic: no horizontal-flip views")
    parser.add_argument("--threshold", type=float, help="semantic: confidence in [0, 1] below which a pixel is ignored")
    parser.add_argument("--tag-file", help="semantic: json {image id or file stem: [class index or name, ...]}")
    parser.add_argument(
        "--relabel-threshold",
        type=float,
        help="instance: relabel an annotation when its suggested class is more probable than this (default 0.5; "
        "noisy_seg.label_errors.correction, the policy find-label-errors applies too)",
    )
    parser.add_argument("--mask-iou-threshold", type=float, help="instance: mask IoU in [0, 1] to match an instance")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run (same settings)")
    parser.add_argument("--batch-size", type=int, default=1, help="images per forward pass (default 1)")
    parser.add_argument("--num-workers", type=int, default=0, help="data loading processes (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_launch_arguments(parser)  # each process predicts its share of the images
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides, key=value")
    add_register_argument(parser)
    return parser.parse_args(argv)


def check_flags(args) -> None:
    """Checks that read no file."""
    other = INSTANCE_FLAGS if args.task == "semantic" else SEMANTIC_FLAGS
    given = [flag for key, flag in other.items() if getattr(args, key) not in (None, False)]
    if given:
        raise UserInputError(f"{given[0]} does not apply to --task {args.task}")
    if args.scales is not None and any(not scale > 0 for scale in args.scales):
        raise UserInputError(f"--scales must be positive numbers, got {' '.join(f'{s:g}' for s in args.scales)}")
    for flag, value in (
        ("--threshold", args.threshold),
        ("--relabel-threshold", args.relabel_threshold),
        ("--mask-iou-threshold", args.mask_iou_threshold),
    ):
        if value is not None and not 0 <= value <= 1:
            raise UserInputError(f"{flag} must lie in [0, 1], got {value:g}")
    if args.batch_size < 1 or args.num_workers < 0:
        raise UserInputError(
            f"--batch-size must be at least 1 and --num-workers at least 0, got {args.batch_size} "
            f"and {args.num_workers}"
        )


def check_files(args) -> None:
    """The inputs exist, and the output folder holds nothing (or, with --resume, is a run to continue)."""
    args.config_file = resolve_config_file(args.config_file)  # a path, or a packaged config's name
    if not os.path.isfile(args.weights):
        raise UserInputError(f"--weights {args.weights} not found; pass the trained model's .pth file")
    if args.tag_file is not None and not os.path.isfile(args.tag_file):
        raise UserInputError(f"--tag-file {args.tag_file} not found")
    problem = folder_problem(args.output, "--output", resume=args.resume)
    if problem:
        raise UserInputError(problem)


def default_dataset(cfg) -> str:
    """The config's training set (a name, or a LazyCall that registers a tool's output and names it)."""
    names = dataset_names(cfg.dataloader.train) if "dataloader" in cfg and "train" in cfg.dataloader else []
    if len(names) != 1:
        raise UserInputError(f"pass --dataset: the config trains on {len(names)} datasets ({', '.join(names)})")
    return names[0]


def run_semantic(args, cfg, model) -> None:
    manifest = generate_pseudo_labels(
        model,
        args.dataset,
        args.output,
        scales=args.scales or DEFAULT_SCALES,
        flip=not args.no_flip,
        threshold=args.threshold,
        tag_file=args.tag_file,
        resume=args.resume,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        checkpoint=str(Path(args.weights).resolve()),
        progress=not args.no_progress,
        **mapper_settings(cfg),
    )
    if not comm.is_main_process():
        return
    print(f"wrote {manifest['num_images']} pseudo label maps to {args.output} ({MANIFEST})")
    quality = manifest.get("quality")
    if quality is not None:
        print(
            f"quality against the true label maps of {quality['images']} images: mIoU {quality['mIoU']:.2f} over "
            f"covered pixels, pixel accuracy {quality['pACC']:.2f}, coverage {100 * quality['coverage']:.1f}%"
        )


def run_instance(args, cfg, model) -> None:
    from noisy_seg.pseudo_labels.instance import correct_instance_labels  # only this task needs it

    options = {key: getattr(args, key) for key in INSTANCE_FLAGS if getattr(args, key) is not None}  # else its defaults
    summary = correct_instance_labels(
        model,
        args.dataset,
        args.output,
        resume=args.resume,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        progress=not args.no_progress,
        **options,
        **mapper_settings(cfg),
    )
    if comm.is_main_process():
        print(f"corrected the labels of {args.dataset} into {args.output}: {summary}")


def _process(args) -> None:
    """One of several processes (detectron2's launch): the model, and its share of the images."""
    register_from_args(args)
    cfg = load_lazy_config(args.config_file, args.opts)
    try:
        default_dataset(cfg)  # a dataset the config registers (a LazyCall) is registered in this process too
    except UserInputError:
        pass  # the config names several; --dataset is a registered one
    check_datasets_available([args.dataset])
    model = build_model(cfg, args.weights)
    if args.task == "semantic":
        run_semantic(args, cfg, model)
    else:
        run_instance(args, cfg, model)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        check_flags(args)
        check_launch_arguments(args)
        check_files(args)
        register_from_args(args)
        cfg = load_lazy_config(args.config_file, args.opts)
        args.dataset = args.dataset or default_dataset(cfg)
        check_datasets_available([args.dataset])
        if args.num_gpus * args.num_machines > 1:
            build_model(on_cpu(cfg), args.weights)  # weights that do not fit: one error before processes start
            launch_from_args(_process, args, args)
            return 0
        model = build_model(cfg, args.weights)
        if args.task == "semantic":
            run_semantic(args, cfg, model)
        else:
            run_instance(args, cfg, model)
    except UserInputError as err:
        raise SystemExit("error: " + " ".join(str(err).split())) from None
    except OSError as err:  # e.g. a full disk: every file written is whole, so a rerun goes on from there
        raise SystemExit(f"error: {' '.join(str(err).split())}; fix that and rerun with --resume") from None
    return 0


if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
