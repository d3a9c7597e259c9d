#!/usr/bin/env python
"""Find label errors in a COCO-format instance-segmentation dataset: annotations of the wrong class (with the class
suggested instead), bad masks, and objects nobody annotated, ranked (noisy_seg.label_errors on a Mask R-CNN's view
of every annotated box; noisy_seg.pseudo_labels.label_issues).

    # out-of-sample: K models, each trained on the other folds' images, score their held-out images
    python tools/find_label_errors.py --config-file configs/toy/mask_rcnn_R18_FPN_ce.py \\
        --dataset toy_shapes_train --folds 4 --output output/label_errors/toy_folds
    # a given checkpoint
    python tools/find_label_errors.py --config-file configs/toy/mask_rcnn_R18_FPN_ce.py \\
        --weights output/toy/mask_rcnn_R18_FPN_ce/model_final.pth --dataset toy_shapes_train \\
        --output output/label_errors/toy
    # a COCO json, e.g. a noisy copy from tools/make_noisy_dataset.py, read like a registered dataset
    python tools/find_label_errors.py --config-file configs/toy/mask_rcnn_R18_FPN_ce.py \\
        --dataset output/toy_train_sym40.json --like toy_shapes_train --folds 2 --output output/label_errors/sym40

Predictions: with --folds K the dataset's images are dealt into K folds (seeded by --seed); fold k's model is
trained by tools/train_net.py on the other folds and evaluated on fold k (each a view of the dataset's json,
noisy_seg.data.register_coco_view: the fold's image ids in OUTPUT/folds/fold<k>/*_ids.json, no json copies), then
scores fold k's images, so no annotation is judged by a model that trained on it. --weights then is
the fold trainings' initialization (train.init_checkpoint), optional. Without --folds, --weights is the model that
scores every image: if it was trained on this dataset, its predictions are in-sample and under-report the errors it
memorized (the tool says so). The fold trainings need a dataset that a fresh process knows (a built-in one, or a
copy of one: register_coco_file's `like`; --dataset FILE.json --like NAME [--image-root DIR] registers one), and a
config whose train mapper adds no noise of its own (dataloader.train.mapper.noise=null: the json is the data).
The fold trainings are a grid (noisy_seg.engine.jobs): --jobs of them at once, sharing the CPU threads; a failed
fold is reported with its log after the others have run. --batch-size and --num-workers set the scoring's test
loader (noisy_seg.inference).

Quality gate (noisy_seg.label_errors.quality_gate): the held-out AP of the scoring models (with --folds each fold
model on its held-out fold; with --weights the checkpoint on the config's test set, evaluated into
OUTPUT/heldout_check/; --no-heldout-check skips it, and the gate then fails) is in the summary; below
--min-heldout-ap (default 5) the tool says the scores are unreliable and writes no corrected.json unless
--write-corrected.

Scores per annotation: cleanlab's self-confidence and normalized margin on the box head's class posterior on the
annotated box (foreground classes, renormalized), DivideMix's GMM clean probability on its cross entropy, the IoU of
the predicted mask with the annotated one; the model's own detections scored at least --missing-score that overlap
no annotation (box IoU < --match-iou) are missing objects. --method decides the class issues: confident_learning
(cleanlab.filter.find_label_issues, the default), or self_confidence / normalized_margin / gmm below --threshold
(default 0.5). --mask-threshold: a mask IoU below it is a mask issue. --no-masks / --no-missing turn those off.

Writes OUTPUT/issues.json: one row per annotation with an issue, every reason in it (class, mask), and one per
missing object, ranked by one combined score (each type ranked on its own scale, class issues by the per-class
calibrated self-confidence, the types interleaved by their rank within type: noisy_seg.label_errors.combine), with
each row's rank within each type, given and suggested category ids and whether corrected.json relabels it; settings
and summary: counts per type and per class, the dataset's class noise estimated by confident learning (noise rate
and transition matrix, cleanlab's confident joint; the true one beside it with injected noise), the quality gate,
the corrections, and with injected noise (clean_category_id from tools/make_noisy_dataset.py) AUROC, average
precision and precision@k of each score and what the corrections restored and broke. OUTPUT/scores.json (every
annotation's scores), OUTPUT/corrected.json (the json with the correction policy applied: a class issue whose
suggested class is more probable than --relabel-threshold is relabelled, the original in original_category_id;
label correction's rule, noisy_seg.label_errors.correction), OUTPUT/noise_matrix.png (the transition matrix),
OUTPUT/weighted.json (the json unchanged but for "loss_weight" on every scored annotation: its GMM clean
probability, 4 decimals; train on it, registered with register_coco_file(like=...), with
model.roi_heads.box_predictor.annotation_loss_weights=True to weight each RoI's classification loss by it),
OUTPUT/detections.json (unless --no-missing: the model's detections scored at least --missing-score on every scored
image, the candidates of missing objects, for benchmarks such as cleanlab.object_detection's: {"score_threshold",
"box_mode": "XYWH_ABS", "images": [{"image_id", "fold", "boxes", "scores", "category_ids"}]}, boxes rounded to 0.01
px), the review page OUTPUT/review/index.html (a static page: sort and filter the first --review-limit issues,
accept or reject each, export the json with only the accepted fixes; noisy_seg.pseudo_labels.review_page), PNGs of
the first --top issues of each type under OUTPUT/top/<type>/, and with --folds the fold trainings
under OUTPUT/folds/. OUTPUT
must be new or empty; with --resume, an interrupted run there with the same settings continues (its finished fold
trainings are reused, an interrupted one goes on from its last checkpoint, and the scoring goes on from its last
evidence shard). OUTPUT/evidence/ (OUTPUT/evidence/fold<k>/ with --folds) keeps the model's evidence in columnar
shards (noisy_seg.pseudo_labels.evidence_shards: per annotation the class posterior, float32, and the mask IoU; the
detections), memory-mapped by `load_shards` for a later look without the model. Trailing
key=value arguments override the config, for scoring and for the fold trainings alike (e.g. train.max_iter=300
train.device=cpu).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional

import numpy as np

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

from detectron2.data import MetadataCatalog
from detectron2.utils import comm

from noisy_seg.data import (
    add_register_argument,
    register_from_args,
)  # (registers the toy sets)
from noisy_seg.engine import load_lazy_config, resolve_config_file, resolve_tool_dataset
from noisy_seg.engine.ddp import add_launch_arguments, check_launch_arguments, launch_from_args
from noisy_seg.engine.jobs import TrainingJob, add_gpu_arguments, check_gpu_arguments, run_jobs
from noisy_seg.engine.launcher import last_error_line, quoted, training_metrics
from noisy_seg.engine.train_loop import do_test
from noisy_seg.inference import (
    build_model,
    check_fits,
    check_mask_head,
    configured_classes,
    configured_mask_head,
    mapper_settings,
    on_cpu,
    predicted_classes,
)
from noisy_seg.label_errors import CLASS_METHODS
from noisy_seg.label_errors.correction import DEFAULT_RELABEL_THRESHOLD
from noisy_seg.label_errors.quality_gate import DEFAULT_MIN_HELDOUT_AP, quality_gate
from noisy_seg.pseudo_labels.label_issues import (
    CORRECTED_JSON,
    ISSUES_JSON,
    NOISE_PNG,
    collect_instance_evidence,
    fold_image_ids,
    image_folds,
    label_issue_report,
    load_instance_dataset,
    merge_evidence,
    write_label_issues,
)
from noisy_seg.utils.columns import fingerprint
from noisy_seg.utils.errors import UserInputError, tool_exit_status
from noisy_seg.utils.files import file_sha256, load_json, save_json_atomic, save_json_streamed
from noisy_seg.utils.memory import return_freed_arrays_promptly
from noisy_seg.utils.run_folder import FINISHED, RunFolder, folder_problem

FOLDS_DIR = "folds"
EVIDENCE_DIR = "evidence"  # the model's evidence in columnar shards (pseudo_labels/evidence_shards.py)
DETECTIONS_JSON = "detections.json"
HELDOUT_DIR = "heldout_check"  # the given checkpoint's evaluation on the config's test set
SET_BY_THE_TOOL = ("train.output_dir", "dataloader.train.dataset.names", "dataloader.test.dataset.names")
IN_SAMPLE_CAVEAT = (
    "predictions of one given checkpoint: if it was trained on this dataset they are in-sample, and "
    "the errors it memorized score as clean (under-reported); --folds K gives out-of-sample ones"
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True, help="the LazyConfig of the model (and of the fold trainings)")
    parser.add_argument(
        "--weights",
        help="the checkpoint that scores the dataset; with --folds the fold trainings' initialization (optional)",
    )
    parser.add_argument(
        "--dataset", required=True, help="a registered COCO-format instance dataset, or a COCO json file (with --like)"
    )
    parser.add_argument(
        "--like", help="with --dataset FILE.json: the registered dataset the file is a copy of (its images and classes)"
    )
    parser.add_argument("--image-root", help="with --dataset FILE.json: its image folder (default: --like's)")
    parser.add_argument("--folds", type=int, help="K >= 2: train K models, each scoring its held-out images")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold split (default 0)")
    parser.add_argument("--output", required=True, help="a new (or empty) folder")
    parser.add_argument("--top", type=int, default=20, help="PNGs of the first N issues (default 20; 0: none)")
    parser.add_argument(
        "--method",
        choices=CLASS_METHODS,
        default="confident_learning",
        help="what decides the class issues (default confident_learning)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        help="self_confidence / normalized_margin / gmm: a score below it is a class issue (default 0.5)",
    )
    parser.add_argument("--mask-threshold", type=float, default=0.5, help="a mask IoU below it is a mask issue")
    parser.add_argument(
        "--relabel-threshold",
        type=float,
        default=DEFAULT_RELABEL_THRESHOLD,
        help="corrected.json relabels a class issue when its suggested class is more probable than this (default "
        "0.5; label correction's rule: noisy_seg.label_errors.correction)",
    )
    parser.add_argument(
        "--min-heldout-ap",
        type=float,
        default=DEFAULT_MIN_HELDOUT_AP,
        help="the quality gate: below this held-out AP (0-100; mask AP, box AP with --no-masks) of the scoring "
        "models the scores are called unreliable and corrected.json is not written (default 5)",
    )
    parser.add_argument(
        "--review-limit",
        type=int,
        default=10_000,
        help="rows of the review page OUTPUT/review/index.html, first by combined score (default 10000; 0: no page)",
    )
    parser.add_argument(
        "--no-heldout-check",
        action="store_true",
        help="--weights: skip the evaluation on the config's test set (the gate then fails: nothing says the "
        "scores can be trusted)",
    )
    parser.add_argument(
        "--write-corrected",
        action="store_true",
        help="write corrected.json even when the quality gate fails",
    )
    parser.add_argument(
        "--missing-score",
        type=float,
        default=0.5,
        help="a detection scored at least this that matches no annotation is a missing object (default 0.5)",
    )
    parser.add_argument(
        "--match-iou",
        type=float,
        default=0.5,
        help="box IoU from which a detection matches an annotation (default 0.5)",
    )
    parser.add_argument("--no-masks", action="store_true", help="no mask scores (no mask issues)")
    parser.add_argument("--no-missing", action="store_true", help="no detection pass (no missing objects)")
    parser.add_argument(
        "--jobs", type=int, help="--folds: fold trainings run at once (default 1, or with --gpus every GPU's share)"
    )
    add_gpu_arguments(parser)  # --folds: each fold training on one GPU
    parser.add_argument("--batch-size", type=int, default=1, help="images per forward pass (default 1)")
    parser.add_argument("--num-workers", type=int, default=0, help="data loading processes (default 0)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run in --output with the same settings (finished fold trainings are reused)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_launch_arguments(parser)  # each process scores its share of the images (with --folds: of each fold's)
    add_register_argument(parser)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides, key=value")
    return parser.parse_args(argv)


def check_flags(args) -> None:
    """Checks that read no file."""
    if args.folds is not None and args.folds < 2:
        raise UserInputError(
            f"--folds must be at least 2 (K models, each scoring the images the others train on), got {args.folds}"
        )
    if args.folds is None and args.weights is None:
        raise UserInputError("pass --weights (the checkpoint that scores the dataset) or --folds K (train K models)")
    if args.top < 0:
        raise UserInputError(f"--top must be 0 or more, got {args.top}")
    args.jobs = check_gpu_arguments(args)
    if args.batch_size < 1 or args.num_workers < 0:
        raise UserInputError(
            f"--batch-size must be at least 1 and --num-workers at least 0, got {args.batch_size} and "
            f"{args.num_workers}"
        )
    if args.method == "confident_learning" and args.threshold is not None:
        raise UserInputError(
            "--threshold does not apply to --method confident_learning (cleanlab estimates how many "
            "labels are wrong); pick self_confidence, normalized_margin or gmm to set one"
        )
    if not 0 < args.relabel_threshold <= 1:
        raise UserInputError(f"--relabel-threshold must lie in (0, 1], got {args.relabel_threshold:g}")
    if args.review_limit < 0:
        raise UserInputError(f"--review-limit must be 0 (no review page) or more, got {args.review_limit}")
    if not 0 <= args.min_heldout_ap <= 100:
        raise UserInputError(f"--min-heldout-ap is a COCO AP in [0, 100], got {args.min_heldout_ap:g}")
    for flag, value in (
        ("--threshold", args.threshold),
        ("--mask-threshold", args.mask_threshold),
        ("--missing-score", args.missing_score),
        ("--match-iou", args.match_iou),
    ):
        if value is not None and not 0 <= value <= 1:
            raise UserInputError(f"{flag} must lie in [0, 1], got {value:g}")
    keys = [opt.split("=", 1)[0].lstrip("+~") for opt in args.opts]
    taken = [key for key in keys if key in SET_BY_THE_TOOL or (key == "train.init_checkpoint" and args.weights)]
    if args.folds is not None and taken:
        raise UserInputError(f"{taken[0]} is set by the tool for the fold trainings; leave it out")


def check_files(args) -> None:
    """The inputs exist and the output folder is new or empty (with --resume: an unfinished run to continue)."""
    args.config_file = resolve_config_file(args.config_file)  # a path, or a packaged config's name
    if args.weights is not None and not os.path.isfile(args.weights):
        raise UserInputError(f"--weights {args.weights} not found; pass a trained model's .pth file")
    problem = folder_problem(args.output, "--output", resume=args.resume)
    if problem:
        raise UserInputError(problem)


def registered_dataset(args) -> str:
    """The name of --dataset: as given, or the registration of its json file like --like (engine.tool_dataset)."""
    return resolve_tool_dataset(args.dataset, like=args.like, image_root=args.image_root)


# ------------------------------------------------------------------------------------------------- K folds
def source_dataset(name: str) -> str:
    """The registered dataset `name` is a copy of (register_coco_file's `like`, followed to the first one), or
    `name`: the one the fold jsons are registered like."""
    seen = {name}
    while MetadataCatalog.get(name).get("copy_of", None) and MetadataCatalog.get(name).copy_of not in seen:
        name = MetadataCatalog.get(name).copy_of
        seen.add(name)
    return name


def _registration(json_file: str, like: str, image_root: str, image_ids: Path, register=()) -> str:
    """A hydra override value: the LazyCall register_coco_view(json_file, like, image_ids, image_root[, register]):
    `register` (--register) registers a user's own `like` in the fold training's fresh process first."""
    return (
        "{_target_:noisy_seg.data.register_coco_view,json_file:"
        + quoted(Path(json_file).resolve())
        + ",like:"
        + quoted(like)
        + ",image_ids:"
        + quoted(image_ids.resolve())
        + ",image_root:"
        + quoted(image_root)
        + (",register:[" + ",".join(quoted(spec) for spec in register) + "]" if register else "")
        + "}"
    )


def fold_training(args, json_file: str, train_ids: Path, heldout_ids: Path, like: str, image_root: str, model_dir):
    """(config, overrides) of a fold's training: the dataset's json viewed through the fold's image ids (no copy),
    evaluated on its held-out images (COCOEvaluator converts the view's records into the model's folder)."""
    opts = [
        *args.opts,
        # null first: a LazyCall already there would otherwise be merged into, not replaced
        "dataloader.train.dataset.names=null",
        f"dataloader.train.dataset.names={_registration(json_file, like, image_root, train_ids, args.register)}",
        "dataloader.test.dataset.names=null",
        f"dataloader.test.dataset.names={_registration(json_file, like, image_root, heldout_ids, args.register)}",
        f"dataloader.evaluator.output_dir={quoted(Path(model_dir) / 'inference')}",
    ]
    if args.weights:
        opts.append(f"train.init_checkpoint={quoted(Path(args.weights).resolve())}")
    return str(Path(args.config_file).resolve()), opts


def train_folds(args, data, output: Path):
    """One model per fold (a grid of fold trainings, engine.jobs, --jobs at a time; finished ones reused): (fold_of,
    the trainings' results, each fold's held-out image ids). A failed fold is reported with the others' outcome. Only
    the first process of a launch reports (the others find the trainings finished)."""
    fold_of = image_folds([record["image_id"] for record in data.records], args.folds, seed=args.seed)
    like = source_dataset(data.name)
    image_root = MetadataCatalog.get(data.name).image_root
    report = (lambda line: print(line, flush=True)) if comm.is_main_process() else (lambda line: None)
    trainings, held_out_ids = [], []
    for fold in range(args.folds):
        fold_dir = output / FOLDS_DIR / f"fold{fold}"
        train, heldout = fold_image_ids([record["image_id"] for record in data.records], fold_of, fold)
        train_ids, heldout_ids = fold_dir / "train_ids.json", fold_dir / "heldout_ids.json"
        save_json_atomic(train, train_ids)  # the fold is a view of the dataset's json: these ids, no copy
        save_json_atomic(heldout, heldout_ids)
        report(
            f"fold {fold + 1}/{args.folds}: training on {len(train)} images, scoring {len(heldout)} "
            f"(log: {fold_dir / 'train.log'})"
        )
        model_dir, log = (fold_dir / "model").resolve(), fold_dir / "train.log"
        config, opts = fold_training(args, data.json_file, train_ids, heldout_ids, like, image_root, model_dir)
        trainings.append(TrainingJob(f"fold {fold}", config, tuple(opts), model_dir, log, flag=f"fold {fold}"))
        held_out_ids.append(heldout)
    runs = run_jobs(
        trainings, args.jobs, title="fold trainings", report=report, gpus=args.gpus, jobs_per_gpu=args.jobs_per_gpu
    )
    failed = [run for run in runs if run.status == "failed" or not (run.folder / "model_final.pth").is_file()]
    if failed:
        raise UserInputError(
            "; ".join(
                f"the training of {run.name} failed: {last_error_line(run.log)} (full log: {run.log})" for run in failed
            )
            + f" ({len(runs) - len(failed)} of {len(runs)} folds finished)"
        )
    return fold_of, runs, held_out_ids


def fold_evidence(args, cfg, data, output: Path, settings: dict, progress: bool, **evidence_options):
    """The fold models (`train_folds`), each scoring its held-out images (under launch, each process its share of
    them) into OUTPUT/evidence/fold<k>/ shards: (merged evidence, fold_of, {fold name: its held-out AP})."""
    fold_of, runs, held_out_ids = train_folds(args, data, output)
    parts = []
    for fold, (run, image_ids) in enumerate(zip(runs, held_out_ids)):
        weights = run.folder / "model_final.pth"
        parts.append(
            collect_instance_evidence(
                build_model(cfg, str(weights)),
                data,
                image_ids=image_ids,
                shard_dir=output / EVIDENCE_DIR / f"fold{fold}",
                fingerprint=evidence_fingerprint(settings, weights, fold),
                progress=progress,
                desc=f"scoring fold {fold + 1}/{args.folds}",
                **evidence_options,
            )
        )
    metric = heldout_metric(args)
    heldout_ap = {f"fold {fold}": training_metrics(run.folder).get(metric) for fold, run in enumerate(runs)}
    return merge_evidence(parts), fold_of, heldout_ap


def heldout_metric(args) -> str:
    """The metric of the quality gate: mask AP, or box AP with --no-masks."""
    return "bbox/AP" if args.no_masks else "segm/AP"


def heldout_check(args, cfg, model) -> dict:
    """The given checkpoint's held-out check: its AP on the config's test set (detectron2's evaluation, written
    under OUTPUT/heldout_check/), {"checkpoint": AP or None when the config evaluates no such metric}."""
    cfg.dataloader.evaluator.output_dir = str(Path(args.output) / HELDOUT_DIR)
    results = do_test(cfg, model)
    task, name = heldout_metric(args).split("/")
    return {"checkpoint": results.get(task, {}).get(name)}


def evidence_fingerprint(settings: dict, weights, fold: Optional[int] = None) -> str:
    """What the evidence shards of a run must have been written with: the settings, the fold, the weights' bytes."""
    identity = {"settings": settings, "fold": fold, "weights": file_sha256(weights) if weights else None}
    return fingerprint(identity)


# ------------------------------------------------------------------------------------------------- outputs
def detections_file(data, evidence, fold_of: Optional[dict], min_score: float) -> dict:
    """detections.json: per scored image (also those without detections) its detections, in dataset category ids;
    the "images" value is a generator (save_json_streamed writes it)."""
    to_dataset = np.zeros(max(data.id_map.values()) + 1, np.int64)
    to_dataset[list(data.id_map.values())] = list(data.id_map.keys())
    detections = evidence.detections
    image_ids = np.asarray(evidence.image_ids)
    # detections are ordered like the images (by dataset position): each image's are one slice
    counts = np.bincount(np.searchsorted(evidence.images["position"], detections["position"]), minlength=len(image_ids))
    ends = np.cumsum(counts)

    def images():
        for image_id, start, end in zip(image_ids.tolist(), (ends - counts).tolist(), ends.tolist()):
            yield {
                "image_id": image_id,
                "fold": fold_of[image_id] if fold_of else None,
                "boxes": np.round(np.asarray(detections["box"][start:end], np.float64), 2).tolist(),
                "scores": np.asarray(detections["score"][start:end], np.float64).tolist(),
                "category_ids": to_dataset[np.asarray(detections["class"][start:end])].tolist(),
            }

    return {"score_threshold": min_score, "box_mode": "XYWH_ABS", "images": images()}


# ------------------------------------------------------------------------------------------------- main
def prepare(args):
    """The checks that read the config and the dataset: (cfg, data, settings, evidence options)."""
    register_from_args(args)  # in every process launch starts
    cfg = load_lazy_config(args.config_file, args.opts)
    dataset = registered_dataset(args)
    data = load_instance_dataset(dataset, needs_masks=not args.no_masks)
    if args.folds is not None and args.folds > len(data.records):
        raise UserInputError(f"--folds {args.folds} is more than the {len(data.records)} images of {args.dataset}")
    settings = {
        "config_file": args.config_file,
        "weights": args.weights,
        "dataset": args.dataset,
        "like": args.like,
        "json_file": data.json_file,
        "folds": args.folds,
        "seed": args.seed,
        "method": args.method,
        "threshold": args.threshold,
        "mask_threshold": None if args.no_masks else args.mask_threshold,
        "missing_score": None if args.no_missing else args.missing_score,
        "match_iou": args.match_iou,
        "relabel_threshold": args.relabel_threshold,
        "min_heldout_ap": args.min_heldout_ap,
        "overrides": list(args.opts),
        "predictions": "out-of-sample" if args.folds else "given checkpoint",
        "caveat": None if args.folds else IN_SAMPLE_CAVEAT,
    }
    evidence_options = dict(
        with_masks=not args.no_masks,
        keep_masks=args.top > 0,
        detect_score=None if args.no_missing else args.missing_score,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        **mapper_settings(cfg),
    )
    return cfg, data, settings, evidence_options


def check_model(args, cfg, data, model=None) -> None:
    """The model fits the dataset: its class count and, for mask scoring, a mask head (from the built `model`, or
    for --folds from the config: no model is built before the folds are trained)."""
    if model is not None:
        classes, mask_on = predicted_classes(model), model.roi_heads.mask_on
    else:
        classes, mask_on = configured_classes(cfg), configured_mask_head(cfg)
    check_fits(classes, data.num_classes, args.dataset)
    if not args.no_masks:
        check_mask_head(mask_on, "mask scoring")


def score_and_write(args, cfg, data, settings, evidence_options, model=None) -> Optional[dict]:
    """The evidence (the given model's, or K-fold's), then the report and the files (written by the first process
    under launch; the others return None)."""
    progress = not args.no_progress and comm.is_main_process()
    if args.folds is None:
        if comm.is_main_process():
            print(f"caveat: {IN_SAMPLE_CAVEAT}", file=sys.stderr)
        evidence = collect_instance_evidence(
            model,
            data,
            shard_dir=Path(args.output) / EVIDENCE_DIR,
            fingerprint=evidence_fingerprint(settings, args.weights),
            progress=progress,
            **evidence_options,
        )
        fold_of = None
        heldout_ap = {"checkpoint": None} if args.no_heldout_check else heldout_check(args, cfg, model)
    else:
        noise = cfg.get("dataloader", {}).get("train", {}).get("mapper", {}).get("noise", None)
        if noise is not None:
            print(
                f"warning: the config adds label noise on the fly (dataloader.train.mapper.noise={noise}): the "
                "fold models train on a re-noised copy of the json",
                file=sys.stderr,
            )
        evidence, fold_of, heldout_ap = fold_evidence(
            args, cfg, data, Path(args.output), settings, progress, **evidence_options
        )
    if not comm.is_main_process():
        return None
    folder = RunFolder.open(args.output, settings, resume=True)  # opened by main() already
    return_freed_arrays_promptly()  # the report's array transients go back to the OS, not into the next step's peak
    report = label_issue_report(
        data,
        evidence,
        method=args.method,
        threshold=args.threshold,
        mask_threshold=args.mask_threshold,
        score_threshold=args.missing_score,
        match_iou=args.match_iou,
        relabel_threshold=args.relabel_threshold,
        fold_of=fold_of,
    )
    gate = quality_gate(heldout_ap, metric=heldout_metric(args), bar=args.min_heldout_ap)
    report["summary"]["quality_gate"] = gate
    if not args.no_missing:
        save_json_streamed(detections_file(data, evidence, fold_of, args.missing_score), folder.path / DETECTIONS_JSON)
    write_label_issues(
        folder,
        data,
        evidence,
        report,
        settings=settings,
        top=args.top,
        write_corrected=gate["passed"] or args.write_corrected,
        review_limit=args.review_limit,
        progress=progress,
    )
    return report


def print_summary(args, report: dict) -> None:
    summary = report["summary"]
    counts = summary["issues"]
    print(
        f"{counts['total']} issues in {args.dataset}: {counts['annotations']} annotations ({counts['class']} with a "
        f"class issue, {counts['mask']} with a mask issue), {counts['missing']} missing objects: "
        f"{Path(args.output) / ISSUES_JSON}"
    )
    gate = summary["quality_gate"]
    if gate["passed"]:
        print(f"quality gate passed: {gate['verdict']}")
    else:
        written = "written anyway (--write-corrected)" if args.write_corrected else "not written (--write-corrected)"
        print(f"warning: {gate['verdict']}; {CORRECTED_JSON} {written}", file=sys.stderr)
    estimate = summary.get("noise_estimate")
    if estimate is not None:
        injected = estimate.get("injected")
        truth = f" (injected: {injected['noise_rate']:.3f})" if injected else ""
        print(f"estimated class noise rate {estimate['noise_rate']:.3f}{truth}: {Path(args.output) / NOISE_PNG}")
    corrections = summary["corrections"]
    changes = corrections.get("label_noise")
    line = f"relabelled {corrections['relabelled']} (suggested class above {corrections['relabel_threshold']:g})"
    if changes:
        line += f": restored {changes['restored']}, broke {changes['broken']}"
    print(line)
    noise = report["summary"].get("label_noise")
    if noise:
        scores = ", ".join(f"{name} {m['auroc']:.3f}" for name, m in noise["scores"].items() if m["auroc"] is not None)
        print(f"injected class noise: {noise['flipped']} of {noise['annotations']} annotations flipped; AUROC {scores}")


def _process(args) -> None:
    """One of several processes (detectron2's launch): the model (or each fold's) scores its share of the images;
    the first writes."""
    cfg, data, settings, evidence_options = prepare(args)
    model = build_model(cfg, args.weights) if args.folds is None else None
    report = score_and_write(args, cfg, data, settings, evidence_options, model)
    if report is not None:
        print_summary(args, report)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        check_flags(args)
        check_launch_arguments(args)
        check_files(args)
        cfg, data, settings, evidence_options = prepare(args)
        several = args.num_gpus * args.num_machines > 1
        model = None
        if args.folds is None:  # weights of another architecture: one error here, before any process starts
            model = build_model(on_cpu(cfg) if several else cfg, args.weights)
        check_model(args, cfg, data, model)
        folder = RunFolder.open(args.output, settings, resume=args.resume)  # every check passed: the run starts
        if folder.state == FINISHED:  # --resume of a finished run: its report as it is
            print_summary(args, load_json(folder.path / ISSUES_JSON))
            return 0
        if several:
            if args.folds is not None:  # the fold trainings first, as a grid; the processes then score
                train_folds(args, data, folder.path)
            launch_from_args(_process, args, args)
            return 0
        report = score_and_write(args, cfg, data, settings, evidence_options, model)
    except UserInputError as err:
        raise SystemExit("error: " + " ".join(str(err).split())) from None
    print_summary(args, report)
    return 0


if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
