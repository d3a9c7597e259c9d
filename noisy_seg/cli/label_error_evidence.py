#!/usr/bin/env python
"""Evidence for label-error finding (issue 12): how well our scores find label noise injected into the toy data,
beside cleanlab's scores on the same predictions, in one table (AUROC, average precision, precision@k per noise
setting, issue type and score) and one figure of precision-recall curves.

    python benchmarks/label_error_evidence.py --seed 0 --output output/label_errors/seed0   # one seed of make
                                                    # label-errors-toy: 6 Mask R-CNN + 2 Semantic FPN trainings at the
                                                    # toy recipes' schedules, ~25 min on 2 CPU cores
    python benchmarks/label_error_evidence.py --output output/label_errors/smoke train.max_iter=10    # a smoke run

Instance (toy_shapes_train): one seeded noisy copy of the json per --instance-noise (tools/make_noisy_dataset.py),
each scored out of sample by tools/find_label_errors.py --folds K (K toy Mask R-CNNs, each trained on the other folds'
noisy labels; --instance-weights: one given checkpoint instead, in-sample). Defaults: sym40 (40% of the labels flipped
to another class), coco_n_medium (COCO-N's medium level: 75% of the masks corrupted by one spatial op, plus its 30%
uniform-mix class noise), drop20 (20% of the annotations dropped). The known errors, and what scores them (lower:
more likely an error):
- class flip (category_id != clean_category_id): ours self_confidence, normalized_margin, gmm, and confident
  learning (a yes/no decision: its precision and recall); cleanlab.object_detection's swap score of the box;
- bad mask (a spatial op was applied, by the annotation's noise tag): ours the mask IoU; cleanlab its badloc score,
  of the box (cleanlab has no masks);
- missing object (a detection whose box overlaps a dropped annotation at IoU >= 0.5; the dropped ones are the clean
  json's annotations the noisy one lacks), over every detection of detections.json (those scored at least the tool's
  --missing-score): ours 1 - the detection score of the tool's candidates (no annotation at box IoU >= its
  --match-iou; the others rank last); cleanlab its overlooked score (NaN, ranked last, where it sees no miss).
cleanlab runs with its defaults, and its swap and overlooked scores once more with high_probability_threshold 0.5
(its default, 0.95, leaves out most detections of a small model).

Semantic (toy_shapes_cityscapes_sem_seg_val, out of sample): per --semantic-noise (default sembg20: 20% of the object
components dropped to the background; semrelabel40: 40% given another class; drawn with --seed, as <name>_s<seed>) the
val label maps are noised offline (tools/make_noisy_dataset.py --dataset with the config's background_label, so each map
is what the training mapper injects; registered with register_noisy_label_maps) and predicted by a toy Semantic FPN
trained on the train maps with the same noise on the fly (tools/train_net.py; --semantic-weights: one given model
instead). Ours: Rottmann & Reese's component proposals (the softmax and metrics of tools/find_semantic_label_errors.py,
its meta classifier on both halves of the images); cleanlab: cleanlab.segmentation's flagged pixels as components
(benchmarks/bench_semantic_label_errors.py). The errors are the regions where the noisy map differs from the clean one
(>= 250 px). The seed's protocol gives a PR-AUC (a region is found by a proposal of its class at IoU_adj >= 0.25; 21
thresholds), in the notes; AUROC, AP and P@k are over the proposals of object classes >= 250 px, a proposal counting as
an error found when it alone overlaps an error region so.

The runs are one grid (noisy_seg.engine.jobs): a find_label_errors run per instance noise and a semantic training
per semantic noise, --jobs of them at once (each with its share of the CPU threads); a failed run is reported with
its log after the others have run, and a rerun reuses the finished ones.

Writes under --output (default output/label_errors/evidence): run.json (the settings), noisy/<noise>.json,
instance/<noise>/ (the tool's outputs and fold trainings; its log instance/<noise>.log), semantic/<noise>/
(val_labels/, model/, train.log, results.json), and
evidence.md (the table, who ranks the errors better where, the settings), evidence.json and pr_curves.png. A rerun
reuses every finished step (a tool's folder whose run.json says finished, model_final.pth, results.json; a semantic
training resumes) and refuses other settings in the same folder; the report is replaced only with --overwrite; an
unfinished tool run must be removed first. Trailing key=value overrides go to both configs (their trainings, and
scoring), e.g. train.max_iter=10 train.device=cpu.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path


from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

import numpy as np

from detectron2.data import DatasetCatalog, MetadataCatalog

from noisy_seg.cli import find_label_errors, make_noisy_dataset
from noisy_seg.data import check_datasets_available, register_noisy_label_maps
from noisy_seg.engine import load_lazy_config, resolve_config_file
from noisy_seg.engine.jobs import ToolJob, TrainingJob, add_gpu_arguments, check_gpu_arguments, run_jobs
from noisy_seg.engine.launcher import last_error_line
from noisy_seg.inference import build_model, check_fits, mapper_settings, predicted_classes
from noisy_seg.pseudo_labels.semantic_evidence import labelled_semantic_dataset, predict_softmax
from noisy_seg.evaluation.sem_seg import load_label_map
from noisy_seg.label_errors import (
    average_precision_gap,
    best_match_iou,
    cleanlab_box_scores,
    score_metrics,
)
from noisy_seg.label_errors.semantic import (
    MIN_ERROR_SIZE,
    benchmark_counts,
    cleanlab_proposals,
    component_metrics,
    error_regions,
    evaluate_proposals,
    image_proposals,
    score_images,
)
from noisy_seg.label_errors.summary import flag_metrics
from noisy_seg.noise.registry import NOISE_REGISTRY, named_noise_spec
from noisy_seg.pseudo_labels.label_issues import ISSUES_JSON, SCORES_JSON, spatially_noised
from noisy_seg.utils.errors import UserInputError, tool_exit_status
from noisy_seg.utils.files import atomic_output, load_json, save_figure, save_json_atomic
from noisy_seg.utils.run_folder import FINISHED, NEW, STARTED, RunFolder, folder_problem, run_state

BACKGROUND = 0  # the toy semantic classes' background: every other class is an object class
INSTANCE_NOISE = ("sym40", "coco_n_medium", "drop20")
SEMANTIC_NOISE = ("sembg20", "semrelabel40")
INSTANCE_CONFIG = resolve_config_file("toy/mask_rcnn_R18_FPN_ce.py")  # the packaged toy configs
SEMANTIC_CONFIG = resolve_config_file("toy/semantic_R18_FPN_ce.py")
DROPPED_MATCH_IOU = 0.5  # a detection overlapping a dropped annotation this much found it
CLEANLAB_LOW_THRESHOLD = 0.5  # the second cleanlab run's high_probability_threshold
OUR_CLASS_SCORES = ("self_confidence", "normalized_margin", "gmm")
CLASS, MASK, MISSING = "class flip", "bad mask", "missing object"
REPORT_FILES = ("evidence.md", "evidence.json", "pr_curves.png")
RESULTS_JSON = "results.json"
COLUMNS = ("setting", "issue type", "method", "score", "n", "errors", "AUROC", "AP", "P@10", "P@100", "notes")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="output/label_errors/evidence", help="folder of everything written")
    parser.add_argument("--parts", nargs="+", choices=("instance", "semantic"), default=["instance", "semantic"])
    parser.add_argument("--dataset", default="toy_shapes_train", help="the clean COCO-format instance dataset")
    parser.add_argument("--instance-noise", nargs="+", default=list(INSTANCE_NOISE), help="noise short names")
    parser.add_argument("--instance-config", default=INSTANCE_CONFIG)
    parser.add_argument("--folds", type=int, default=2, help="K of the out-of-sample instance scoring (default 2)")
    parser.add_argument("--instance-weights", help="one given checkpoint scores every noisy copy (in-sample: no folds)")
    parser.add_argument(
        "--semantic-dataset",
        default="toy_shapes_cityscapes_sem_seg_val",
        help="the clean semantic dataset whose label maps are noised and checked",
    )
    parser.add_argument("--semantic-noise", nargs="+", default=list(SEMANTIC_NOISE), help="semantic noise short names")
    parser.add_argument("--semantic-config", default=SEMANTIC_CONFIG)
    parser.add_argument("--semantic-weights", help="one given model predicts every setting (no trainings)")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="the noise draws (instance copies, semantic maps and "
        "training), the fold split and the meta classifier (default 0)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace the report files (the runs are reused)")
    parser.add_argument(
        "--bootstrap-rounds",
        type=int,
        default=1000,
        help="resamples of the AP-gap interval behind each verdict (default 1000)",
    )
    parser.add_argument(
        "--jobs", type=int, help="trainings and tool runs at once (default 1, or with --gpus every GPU's share)"
    )
    add_gpu_arguments(parser)  # each run on one GPU
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides for both configs, key=value")
    args = parser.parse_args(argv)
    for key in ("instance_noise", "semantic_noise"):  # a list flag last takes the overrides too: give them back
        values = getattr(args, key)
        args.opts = [value for value in values if "=" in value] + args.opts
        setattr(args, key, [value for value in values if "=" not in value])
    return args


# ------------------------------------------------------------------------------------------------- checks
def noise_part(name: str) -> str:
    """The pipeline part of a noise short name (one clear error for a name that is none)."""
    try:
        spec = named_noise_spec(name)
    except ValueError as err:
        raise UserInputError(f"noise {name!r}: {err}") from None
    if spec is None:
        raise UserInputError("noise 'clean' injects nothing to find")
    return NOISE_REGISTRY[spec["type"]].part


def check_args(args) -> None:
    """Checks that read no dataset: names, numbers, files; the report files are new unless --overwrite."""
    for name in args.instance_noise:
        if noise_part(name) == "semantic_noise":
            raise UserInputError(f"--instance-noise {name} is semantic noise; give it to --semantic-noise")
    for name in args.semantic_noise:
        if noise_part(name) != "semantic_noise" or named_noise_spec(name)["type"] != "semantic":
            raise UserInputError(
                f"--semantic-noise {name} is no component noise of the label maps (sem<NN>, "
                "sembg<NN>, semrelabel<NN>, ...)"
            )
    if args.seed < 0:
        raise UserInputError(f"--seed must be >= 0 (it seeds the noise, <name>_s<seed>), got {args.seed}")
    if args.folds < 2:
        raise UserInputError(f"--folds must be at least 2, got {args.folds}")
    args.jobs = check_gpu_arguments(args)
    if args.bootstrap_rounds < 10:
        raise UserInputError(f"--bootstrap-rounds must be at least 10, got {args.bootstrap_rounds}")
    for flag, path in (
        ("--instance-config", args.instance_config),
        ("--semantic-config", args.semantic_config),
        ("--instance-weights", args.instance_weights),
        ("--semantic-weights", args.semantic_weights),
    ):
        if path is not None and not os.path.isfile(path):
            raise UserInputError(f"{flag} {path} not found")
    problem = folder_problem(args.output, "--output", settings=run_settings(args), resume=True)
    if problem:
        raise UserInputError(problem)
    present = [name for name in REPORT_FILES if (Path(args.output) / name).exists()]
    if present and not args.overwrite:
        raise UserInputError(
            f"{args.output} already holds {', '.join(present)}; pass --overwrite to write the report "
            "again (finished runs are reused)"
        )


def run_settings(args) -> dict:
    """The settings that decide the results: a folder holding runs of other settings is refused."""
    settings = {
        key: getattr(args, key)
        for key in (
            "dataset",
            "instance_config",
            "folds",
            "instance_weights",
            "semantic_dataset",
            "semantic_config",
            "semantic_weights",
            "seed",
        )
    }
    return {**settings, "overrides": list(args.opts)}


def finished(folder: Path) -> bool:
    """Whether a step's output `folder` holds its tool's finished run; a started, unfinished one is an error."""
    state = run_state(folder)
    if state == STARTED or (state == NEW and folder.is_dir() and any(folder.iterdir())):
        raise UserInputError(f"{folder} holds an unfinished run; remove it to run that step again")
    return state == FINISHED


# ------------------------------------------------------------------------------------------------- table rows
def score_row(setting, issue, method, score, is_error, quality, note="") -> dict:
    """One table row of a quality score (lower: more likely an error) against the known errors."""
    is_error, quality = np.asarray(is_error, bool), np.asarray(quality, np.float64)
    metrics = score_metrics(is_error, quality)
    if len(quality) > 1 and np.unique(quality[~np.isnan(quality)]).size <= 1:
        note = "; ".join(filter(None, [note, "every score equal: no ranking"]))
    return {
        "setting": setting,
        "issue": issue,
        "method": method,
        "score": score,
        "n": metrics["annotations"],
        "errors": metrics["errors"],
        "auroc": metrics["auroc"],
        "ap": metrics["average_precision"],
        "p10": metrics["precision_at_k"].get("10"),
        "p100": metrics["precision_at_k"].get("100"),
        "note": note,
        "curve": None,
        "ranked": (is_error, quality),
    }


def flag_row(setting, issue, method, score, is_error, flagged) -> dict:
    """One table row of a yes/no decision: its precision and recall in the notes (and as a point in the figure)."""
    metrics = flag_metrics(np.asarray(is_error, bool), np.asarray(flagged, bool))
    precision, recall = metrics["precision"], metrics["recall"]
    return {
        "setting": setting,
        "issue": issue,
        "method": method,
        "score": score,
        "n": len(is_error),
        "errors": int(np.sum(is_error)),
        "auroc": None,
        "ap": None,
        "p10": None,
        "p100": None,
        "note": f"a decision: {metrics['flagged']} flagged, precision {_number(precision)}, recall {_number(recall)}",
        "curve": {"point": (recall, precision)} if precision is not None else None,
    }


# ------------------------------------------------------------------------------------------------- instance
def make_noisy_json(clean_json: Path, noise: str, folder: Path) -> Path:
    """The seeded noisy copy of the clean json (tools/make_noisy_dataset.py: clean_category_id and a noise tag on each
    kept annotation, ids kept, dropped annotations left out), written once."""
    path = folder / f"{noise}.json"
    if not path.is_file():  # written atomically: present means complete
        make_noisy_dataset.main(["--input", str(clean_json), "--output", str(path), "--noise", noise, "--no-progress"])
    return path


def instance_tool_args(args, noisy_json: Path, like: str, image_root: str, run_dir: Path) -> list[str]:
    """tools/find_label_errors.py's arguments on a noisy copy: K-fold out-of-sample predictions (or
    --instance-weights)."""
    arguments = [
        "--config-file",
        args.instance_config,
        "--dataset",
        str(noisy_json),
        "--like",
        like,
        "--image-root",
        image_root,
        "--output",
        str(run_dir),
        "--seed",
        str(args.seed),
    ]
    # a given checkpoint (in-sample, for tests and quick looks): its rankings are what is measured, so no held-out check
    given = ["--weights", args.instance_weights, "--no-heldout-check"]
    arguments += given if args.instance_weights else ["--folds", str(args.folds)]
    return arguments + ["--no-progress"] + list(args.opts)


def detection_arrays(detections: dict, id_map: dict) -> dict:
    """detections.json as flat arrays: boxes (D, 4) XYWH, scores, classes (contiguous), image ids; and `images`, every
    scored image id in the tool's order."""
    images = detections["images"]
    return {
        "boxes": np.asarray([box for entry in images for box in entry["boxes"]], np.float64).reshape(-1, 4),
        "scores": np.asarray([s for entry in images for s in entry["scores"]], np.float64),
        "classes": np.asarray([id_map[c] for entry in images for c in entry["category_ids"]], np.int64),
        "image_ids": np.asarray([entry["image_id"] for entry in images for _ in entry["scores"]]),
        "images": [entry["image_id"] for entry in images],
    }


def annotation_arrays(annotations: list, image_ids) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (A, 4) XYWH, image ids) of the annotations of `image_ids`."""
    wanted = set(image_ids)
    kept = [a for a in annotations if a["image_id"] in wanted]
    return (np.asarray([a["bbox"] for a in kept], np.float64).reshape(-1, 4), np.asarray([a["image_id"] for a in kept]))


def dropped_annotations(clean: dict, noisy: dict) -> list:
    """The clean json's annotations the noisy copy lacks (make_noisy_dataset keeps the ids of the others)."""
    kept = {ann["id"] for ann in noisy["annotations"]}
    return [ann for ann in clean["annotations"] if ann["id"] not in kept and not ann.get("iscrowd", 0)]


def found_dropped(detections: dict, dropped: list) -> np.ndarray:
    """(D,) bool: the detection's box overlaps a dropped annotation of its image at IoU >= 0.5 (the truth of the
    missing objects)."""
    boxes, image_ids = annotation_arrays(dropped, detections["images"])
    return best_match_iou(detections["boxes"], detections["image_ids"], boxes, image_ids) >= DROPPED_MATCH_IOU


def missing_candidate_scores(detections: dict, annotations: list, match_iou: float) -> np.ndarray:
    """(D,) our missing-object score: 1 - the detection score where the detection overlaps no annotation of its
    image at box IoU >= `match_iou` (find_label_errors' candidates), NaN (ranked last) elsewhere."""
    best = best_match_iou(
        detections["boxes"], detections["image_ids"], *annotation_arrays(annotations, detections["images"])
    )
    return np.where(best < match_iou, 1.0 - detections["scores"], np.nan)


def cleanlab_peer(scores: list, noisy: dict, detections: dict, id_map: dict) -> dict:
    """{variant: cleanlab_box_scores} on the scored annotations (their boxes and given classes, in scores.json's
    order) and the tool's detections: cleanlab's defaults and high_probability_threshold 0.5."""
    annotations = noisy["annotations"]
    inputs = dict(
        annotation_boxes=[annotations[row["annotation_index"]]["bbox"] for row in scores],
        annotation_classes=np.asarray([id_map[row["given_category_id"]] for row in scores], np.int64),
        annotation_images=[row["image_id"] for row in scores],
        detection_boxes=detections["boxes"],
        detection_scores=detections["scores"],
        detection_classes=detections["classes"],
        detection_images=detections["image_ids"],
        num_classes=len(id_map),
        images=detections["images"],
    )
    return {
        "cleanlab defaults": cleanlab_box_scores(**inputs),
        f"high_probability_threshold {CLEANLAB_LOW_THRESHOLD}": cleanlab_box_scores(  # badloc: no threshold
            **inputs, high_probability_threshold=CLEANLAB_LOW_THRESHOLD, scores=("swap", "overlooked")
        ),
    }


def _column(scores: list, key: str) -> np.ndarray:
    return np.asarray([np.nan if row[key] is None else row[key] for row in scores], np.float64)


def class_flip_rows(setting: str, scores: list, peer: dict) -> list:
    truth = np.asarray([row["given_category_id"] != row["clean_category_id"] for row in scores], bool)
    rows = [score_row(setting, CLASS, "ours", name, truth, _column(scores, name)) for name in OUR_CLASS_SCORES]
    rows.append(
        flag_row(setting, CLASS, "ours", "confident_learning", truth, [row["confident_learning"] for row in scores])
    )
    rows += [
        score_row(setting, CLASS, "cleanlab", "swap", truth, box_scores["swap"], note=variant)
        for variant, box_scores in peer.items()
    ]
    return rows


def bad_mask_rows(setting: str, scores: list, peer: dict) -> list:
    truth = np.asarray([spatially_noised(row["noise"]) for row in scores], bool)
    return [
        score_row(setting, MASK, "ours", "mask IoU", truth, _column(scores, "mask_iou")),
        score_row(
            setting,
            MASK,
            "cleanlab",
            "badloc",
            truth,
            peer["cleanlab defaults"]["badloc"],
            note="of the box: cleanlab has no masks",
        ),
    ]


def missing_object_rows(setting: str, detections: dict, noisy: dict, clean: dict, peer: dict, match_iou: float) -> list:
    dropped = dropped_annotations(clean, noisy)
    if not dropped:
        return []
    truth = found_dropped(detections, dropped)
    boxes, image_ids = annotation_arrays(dropped, detections["images"])
    seen = int(
        (best_match_iou(boxes, image_ids, detections["boxes"], detections["image_ids"]) >= DROPPED_MATCH_IOU).sum()
    )
    note = f"{seen} of {len(dropped)} dropped annotations have a detection (IoU >= {DROPPED_MATCH_IOU})"
    rows = [
        score_row(
            setting,
            MISSING,
            "ours",
            "1 - detection score (unmatched)",
            truth,
            missing_candidate_scores(detections, noisy["annotations"], match_iou),
            note=note,
        )
    ]
    rows += [
        score_row(setting, MISSING, "cleanlab", "overlooked", truth, box_scores["overlooked"], note=variant)
        for variant, box_scores in peer.items()
    ]
    return rows


def instance_rows(setting: str, run_dir: Path, noisy_json: Path, clean_json: Path, id_map: dict) -> list:
    """The rows of one noisy copy scored by find_label_errors, for each issue type it holds errors of."""
    scores = [row for row in load_json(run_dir / SCORES_JSON) if "clean_category_id" in row]
    settings = load_json(run_dir / ISSUES_JSON)["settings"]
    detections = detection_arrays(load_json(run_dir / find_label_errors.DETECTIONS_JSON), id_map)
    noisy, clean = load_json(noisy_json), load_json(clean_json)
    peer = cleanlab_peer(scores, noisy, detections, id_map)
    groups = [
        class_flip_rows(setting, scores, peer),
        bad_mask_rows(setting, scores, peer),
        missing_object_rows(setting, detections, noisy, clean, peer, settings["match_iou"]),
    ]
    return [
        row for group in groups if group and (group[0]["errors"] > 0 or group[0]["issue"] == MISSING) for row in group
    ]  # missing objects: also when no detection finds a dropped one (the note says so)


@dataclass
class InstanceSetup:
    """The instance half of the grid: per noise its noisy copy and its find_label_errors run (a ToolJob)."""

    clean_json: Path
    id_map: dict
    noisy_jsons: dict = field(default_factory=dict)  # noise -> path
    jobs: list = field(default_factory=list)


def instance_setup(args, output: Path) -> InstanceSetup:
    """The noisy copies (written once) and one find_label_errors job per --instance-noise; an unfinished run of the
    tool (which cannot resume) is one error here, before anything runs."""
    check_datasets_available([args.dataset])
    DatasetCatalog.get(args.dataset)  # toy data: generated on first use; a COCO json: fills in the id map
    metadata = MetadataCatalog.get(args.dataset)
    like = find_label_errors.source_dataset(args.dataset)
    id_map = {int(k): int(v) for k, v in metadata.thing_dataset_id_to_contiguous_id.items()}
    setup = InstanceSetup(Path(metadata.json_file), id_map)
    for noise in args.instance_noise:
        noisy_json = setup.noisy_jsons[noise] = make_noisy_json(setup.clean_json, noise, output / "noisy")
        run_dir = output / "instance" / noise
        finished(run_dir)  # raises for an unfinished run
        tool_args = instance_tool_args(args, noisy_json, like, metadata.image_root, run_dir)
        setup.jobs.append(
            ToolJob(
                f"instance {noise}", "find_label_errors", tuple(tool_args), run_dir, run_dir.parent / f"{noise}.log"
            )
        )
    return setup


def instance_part_rows(args, setup: InstanceSetup) -> list:
    rows = []
    for noise, job in zip(args.instance_noise, setup.jobs):
        rows += instance_rows(noise, job.folder, setup.noisy_jsons[noise], setup.clean_json, setup.id_map)
    return rows


# ------------------------------------------------------------------------------------------------- semantic
def semantic_issue(noise: str) -> str:
    ops = tuple(named_noise_spec(noise).get("ops") or ())
    return {("background",): "dropped component", ("relabel",): "relabelled component"}.get(ops, "changed component")


def semantic_writer_flags(noise: str, background_label) -> list[str]:
    """make_noisy_dataset's flags for `noise` with the training mapper's background_label (which a name cannot
    carry), so that every val map is noised as the training mapper noises its maps: the background is left alone,
    and "background" ops drop components to it."""
    return ["--noise", noise, *(["--background-label", str(background_label)] if background_label is not None else [])]


def seeded_noise(noise: str, seed: int) -> str:
    """The semantic noise drawn with --seed (`<name>_s<seed>`; seed 0 is the name's default), as the instance copies
    are, so that runs over seeds differ in their noise and models, not only in the meta classifier's split; a name
    that carries its own _s<seed> keeps it."""
    return noise if re.search(r"_s\d+$", noise) else f"{noise}_s{seed}"


def write_noisy_val_maps(args, noise: str, folder: Path, background_label: int) -> Path:
    """The noisy copies of the semantic dataset's label maps (tools/make_noisy_dataset.py --dataset), written once."""
    if not finished(folder):
        make_noisy_dataset.main(
            [
                "--dataset",
                args.semantic_dataset,
                "--output",
                str(folder),
                *semantic_writer_flags(seeded_noise(noise, args.seed), background_label),
                "--no-progress",
            ]
        )
    return folder


def semantic_training(args, noise: str, folder: Path) -> TrainingJob:
    """A toy Semantic FPN trained on the train label maps with `noise` on the fly (tools/train_net.py; an interrupted
    training resumes, a finished one is reused)."""
    opts = (*args.opts, f"dataloader.train.mapper.noise={seeded_noise(noise, args.seed)}")
    return TrainingJob(
        f"semantic {noise}",
        args.semantic_config,
        opts,
        folder.resolve(),
        folder.parent / "train.log",
        "semantic training",
    )


def semantic_softmax(cfg, weights, records, num_classes: int, progress: bool, path: Path):
    """(softmax (N, K, H, W) float32, given label maps (N, H, W) int64) of the records (one image size); the softmax
    is written to the .npy file `path` and memory-mapped, not held in memory: cleanlab.segmentation reads it in its
    batches, ours an image at a time."""
    model = build_model(cfg, str(weights))
    probs = given = None
    check_fits(predicted_classes(model), num_classes, "the evidence set")
    for index, image_probs, image_given in predict_softmax(
        model, records, progress=progress, desc="predicting", **mapper_settings(cfg)
    ):
        if probs is None:
            probs = np.lib.format.open_memmap(
                path, mode="w+", dtype=np.float32, shape=(len(records), *image_probs.shape)
            )
            given = np.zeros((len(records), *image_given.shape), np.int64)
        if image_probs.shape != probs.shape[1:]:
            raise UserInputError(
                f"{records[index]['file_name']}: images of several sizes; cleanlab.segmentation "
                "takes one (N, K, H, W) array"
            )
        probs[index], given[index] = image_probs, image_given
    return probs, given


def clean_label_maps(records, like: str) -> np.ndarray:
    """(N, H, W) the clean label maps of the records (the `like` dataset's, matched by image file)."""
    clean_files = {record["file_name"]: record["sem_seg_file_name"] for record in DatasetCatalog.get(like)}
    return np.stack([load_label_map(clean_files[record["file_name"]]).astype(np.int64) for record in records])


def method_proposals(probs, given, ignore_label: int, seed: int) -> dict:
    """{"ours": {image: (map, classes, scores)}, "cleanlab": ...} on the same softmax: our component proposals (meta
    classifier on both halves: every image scored out of sample), cleanlab.segmentation's flagged components (its
    labels without the ignore label: those pixels as background)."""
    images = [component_metrics(probs[i], given[i]) for i in range(len(probs))]
    scores, info = score_images(images, seed=seed, both_halves=True)
    ours = {i: image_proposals(images[i], scores[i]) for i in range(len(images))}
    labels = np.where(given == ignore_label, BACKGROUND, given)
    theirs, _ = cleanlab_proposals(labels, probs)
    return {"ours": ours, "cleanlab": dict(enumerate(theirs))}, info


def ranked_proposals(proposals: dict, clean, given, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, hits) of every proposal the seed's protocol counts (object class, >= 250 px), all images: a hit
    alone overlaps an error region of its class at IoU_adj >= 0.25 (`benchmark_counts` with it the only one
    active)."""
    objects = [c for c in range(num_classes) if c != BACKGROUND]
    scores, hits = [], []
    for i, (proposal_map, classes, proposal_scores) in proposals.items():
        regions, region_classes = error_regions(clean[i], given[i], num_classes)
        sizes = np.bincount(proposal_map.ravel(), minlength=len(classes) + 1)[1:]
        for j in np.flatnonzero(np.isin(classes, objects) & (sizes >= MIN_ERROR_SIZE)):
            alone = np.zeros(len(classes))
            alone[j] = 1.0
            _, false_positives, _ = benchmark_counts(
                regions, region_classes, proposal_map, classes, alone, classes=objects, thresholds=(0.5,)
            )
            scores.append(float(proposal_scores[j]))
            hits.append(bool(false_positives[0] == 0))
    return np.asarray(scores, np.float64), np.asarray(hits, bool)


def semantic_results(args, cfg, noise: str, weights: Path, labels: Path, progress: bool) -> dict:
    """Both methods on one noisy copy of the val label maps: the seed's PR curve, and each proposal's score and hit."""
    name = register_noisy_label_maps(labels, like=args.semantic_dataset)
    records, class_names, ignore_label = labelled_semantic_dataset(name)
    softmax = Path(labels).parent / SOFTMAX_NPY
    probs, given = semantic_softmax(cfg, weights, records, len(class_names), progress, softmax)
    clean = clean_label_maps(records, args.semantic_dataset)
    proposals, info = method_proposals(probs, given, ignore_label, args.seed)
    del probs
    softmax.unlink()  # as large as the dataset's pixels times the classes: results.json keeps what counts
    methods = {}
    for method, found in proposals.items():
        scores, hits = ranked_proposals(found, clean, given, len(class_names))
        methods[method] = {
            "curve": evaluate_proposals(found, clean, given, range(len(records)), len(class_names), BACKGROUND),
            "scores": scores.tolist(),
            "hits": hits.tolist(),
        }
    return {
        "noise": noise,
        "weights": str(weights),
        "images": len(records),
        "methods": methods,
        "meta_classifier": info["classifiers"],
    }


SOFTMAX_NPY = "softmax.npy"  # the model's softmax while both methods read it (deleted after)
SEMANTIC_SCORES = {"ours": "P(true positive), meta classifier", "cleanlab": "mean 1 - p(label), flagged pixels"}


def semantic_rows(noise: str, results: dict) -> list:
    rows = []
    for method, score in SEMANTIC_SCORES.items():
        entry = results["methods"][method]
        curve = entry["curve"]
        row = score_row(
            noise,
            semantic_issue(noise),
            method,
            score,
            entry["hits"],
            -np.asarray(entry["scores"]),
            note=f"seed PR-AUC {curve['pr_auc']:.3f} ({curve['regions']} error regions >= "
            f"{MIN_ERROR_SIZE} px; n, errors: proposals)",
        )
        row["curve"] = {"recall": curve["recall"], "precision": curve["precision"]}  # the seed's, 21 thresholds
        row["pr_auc"] = curve["pr_auc"]
        rows.append(row)
    return rows


def semantic_setup(args, output: Path):
    """(config, background label, the trainings still needed: one TrainingJob per --semantic-noise whose results are
    not on disk, none with --semantic-weights)."""
    cfg = load_lazy_config(args.semantic_config, args.opts)
    background = cfg.dataloader.train.mapper.get("background_label", None)
    if background != BACKGROUND:
        raise UserInputError(
            f"{args.semantic_config}: the benchmark's object classes are all but class {BACKGROUND}, "
            f"the config's background_label is {background}"
        )
    check_datasets_available([args.semantic_dataset])
    jobs = [
        semantic_training(args, noise, output / "semantic" / noise / "model")
        for noise in args.semantic_noise
        if not args.semantic_weights and not (output / "semantic" / noise / RESULTS_JSON).is_file()
    ]
    return cfg, background, jobs


def semantic_part_rows(args, output: Path, cfg, background: int, timings: dict) -> list:
    """Per noise: its noisy val maps, both methods on the trained (or given) model's softmax (results.json, once),
    the rows."""
    rows = []
    for noise in args.semantic_noise:
        start, folder = time.perf_counter(), output / "semantic" / noise
        if not (folder / RESULTS_JSON).is_file():
            labels = write_noisy_val_maps(args, noise, folder / "val_labels", background)
            weights = args.semantic_weights or folder / "model" / "model_final.pth"
            save_json_atomic(
                semantic_results(args, cfg, noise, weights, labels, not args.no_progress), folder / RESULTS_JSON
            )
            timings[f"semantic {noise} scoring"] = f"{(time.perf_counter() - start) / 60:.1f} min"
        rows += semantic_rows(noise, load_json(folder / RESULTS_JSON))
    return rows


def run_evidence_grid(args, jobs: list, timings: dict) -> None:
    """The trainings and tool runs, --jobs at a time (engine.jobs.run_jobs); one error naming every failed run."""
    runs = run_jobs(
        jobs,
        args.jobs,
        title="label-error evidence",
        report=lambda line: print(line, flush=True),
        gpus=args.gpus,
        jobs_per_gpu=args.jobs_per_gpu,
    )
    for run in runs:
        timings[run.name] = "reused" if run.status == "reused" else f"{run.minutes:.1f} min"
    failed = [run for run in runs if run.status == "failed"]
    if failed:
        raise UserInputError(
            "; ".join(f"{run.name} failed: {last_error_line(run.log)} (full log: {run.log})" for run in failed)
            + f" ({len(runs) - len(failed)} of {len(runs)} runs finished; a rerun reuses them)"
        )


# ------------------------------------------------------------------------------------------------- report
def _number(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(rows: list) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [
            row["setting"],
            row["issue"],
            row["method"],
            row["score"],
            str(row["n"]),
            str(row["errors"]),
            *(_number(row[key]) for key in ("auroc", "ap", "p10", "p100")),
            row["note"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def panels(rows: list) -> dict:
    """{(setting, issue): its rows}, in table order."""
    grouped = defaultdict(list)
    for row in rows:
        grouped[(row["setting"], row["issue"])].append(row)
    return grouped


def verdicts(rows: list, rounds: int = 1000) -> list[str]:
    """Per setting and issue type, the best-ranking score of each side by average precision, and which is higher: a
    side is called higher only where the 95% bootstrap interval of the AP gap (the same annotations or detections
    resampled for both; semantic proposals, which differ by method, each on their own) excludes 0."""
    lines = []
    for (setting, issue), group in panels(rows).items():
        best = {}
        for method in ("ours", "cleanlab"):
            ranked = [row for row in group if row["method"] == method and row["ap"] is not None]
            if ranked:
                best[method] = max(ranked, key=lambda row: row["ap"])
        if len(best) < 2:
            continue
        ours, theirs = best["ours"], best["cleanlab"]
        paired = "pr_auc" not in ours  # instance rows rank the same items; semantic proposals are each method's own
        interval = average_precision_gap(*ours["ranked"], *theirs["ranked"], paired=paired, rounds=rounds)
        verdict = _verdict(interval)
        extra = ""
        if "pr_auc" in ours:
            extra = f"; seed PR-AUC {ours['pr_auc']:.3f} vs {theirs['pr_auc']:.3f}"
        lines.append(
            f"- {setting}, {issue}: ours {ours['score']} AP {ours['ap']:.3f} (AUROC {_number(ours['auroc'])}) "
            f"vs cleanlab {theirs['score']} AP {theirs['ap']:.3f} (AUROC {_number(theirs['auroc'])})"
            f"{extra}: {verdict}"
        )
    return lines


def _verdict(interval) -> str:
    if interval is None or interval["low"] is None:
        return "no verdict (too few errors to resample)"
    gap = f"AP gap {interval['gap']:+.3f}, 95% bootstrap interval [{interval['low']:+.3f}, {interval['high']:+.3f}]"
    if interval["low"] > 0:  # one run: a lead beyond the item resampling, not a winner over training seeds
        return f"ours higher beyond the resampling spread ({gap}; one run)"
    if interval["high"] < 0:
        return f"cleanlab higher beyond the resampling spread ({gap}; one run)"
    return f"neither ahead beyond the resampling spread ({gap})"


def precision_recall(is_error: np.ndarray, quality: np.ndarray):
    """(recall, precision) of ranking by the quality score, lowest first (NaN last)."""
    from sklearn.metrics import precision_recall_curve

    badness = -quality
    known = badness[~np.isnan(badness)]
    badness = np.where(np.isnan(badness), (known.min() if known.size else 0.0) - 1.0, badness)
    precision, recall, _ = precision_recall_curve(is_error, badness)
    return recall[:-1], precision[:-1]  # without scikit-learn's closing point (recall 0, precision 1)


def plot_pr_curves(rows: list, path: Path) -> None:
    """One panel per setting and issue type: ours solid, cleanlab dashed, a decision as a star, the error rate
    (what a random ranking reaches) dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grouped = panels(rows)
    columns = min(3, len(grouped))
    figure_rows = -(-len(grouped) // columns)
    figure, axes = plt.subplots(figure_rows, columns, figsize=(5.2 * columns, 4.2 * figure_rows), squeeze=False)
    for axis, ((setting, issue), group) in zip(axes.flat, grouped.items()):
        for row in group:
            curve, label = row["curve"] or {}, f"{row['method']}: {row['score']}"
            style = "-" if row["method"] == "ours" else "--"
            if not curve and "ranked" not in row:
                continue  # a decision that flagged nothing
            if "point" in curve:
                axis.plot(*curve["point"], "k*", markersize=10, label=f"{label} (decision)")
            elif "recall" not in curve and row["ranked"][0].any():
                recall, precision = precision_recall(*row["ranked"])
                axis.plot(
                    recall,
                    precision,
                    style + ("o" if len(recall) < 3 else ""),
                    label=f"{label} (AP {_number(row['ap'])})"
                    + (", " + row["note"] if "threshold" in row["note"] else ""),
                )
            elif "recall" in curve:
                axis.plot(
                    curve["recall"], curve["precision"], style + ".", label=f"{label} (PR-AUC {row['pr_auc']:.3f})"
                )
        scored = [row for row in group if row["n"]]
        if scored and "ranked" in scored[0] and not scored[0]["curve"]:  # an instance score: the error rate
            axis.axhline(scored[0]["errors"] / scored[0]["n"], color="gray", linestyle=":", linewidth=1)
        axis.set(title=f"{setting}: {issue}", xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=6.5, loc="upper right")
        else:
            axis.text(0.5, 0.5, "nothing to rank", ha="center", va="center", color="gray")
    for axis in list(axes.flat)[len(grouped) :]:
        axis.set_visible(False)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)


READING = """Reading the table: lower scores are worse labels; AUROC, AP (average precision) and P@k (the share of
errors among the k worst; a tie the k-th place cuts counts by its expected share of errors, so tied scores follow no
input order) rank every annotation (detection, proposal) by the score, NaN last; n: how many are
ranked, errors: how many of them are known errors. Instance rows: n annotations (missing objects: detections), known
errors from the noise tags, clean_category_id and the dropped ids. Semantic rows: n proposals >= 250 px of object
classes, errors: those that alone find an error region (IoU_adj >= 0.25); the seed's PR-AUC (in the notes) also
counts the regions no proposal finds. cleanlab's badloc score is of the box: cleanlab has no masks."""


def write_report(command: str, settings: dict, rows: list, timings: dict, output: Path, verdict_lines: list) -> str:
    """evidence.md, evidence.json and pr_curves.png; returns the table."""
    text = table(rows)
    lines = [
        "# Label-error evidence on the toy data (issue 12)",
        "",
        f"Command: `{command}`",
        "",
        "Settings: " + ", ".join(f"{key} {value}" for key, value in settings.items()),
        "",
        "Time per step: " + ", ".join(f"{key} {value}" for key, value in timings.items()),
        "",
        text,
        "",
        "Who ranks the errors better (each side's best score by AP; one seed and one fold split: the interval "
        "is over the items ranked, not over training runs):",
        *verdict_lines,
        "",
        READING,
        "",
    ]
    save_json_atomic(
        {
            "settings": settings,
            "timings": timings,
            "rows": [{k: v for k, v in row.items() if k not in ("curve", "ranked")} for row in rows],
        },
        output / "evidence.json",
        indent=True,
    )
    plot_pr_curves(rows, output / "pr_curves.png")
    with atomic_output(output / "evidence.md", suffix=".md") as temp:
        temp.write_text("\n".join(lines))
    return text


def main(argv=None) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/label_error_evidence.py", *(sys.argv[1:] if argv is None else argv)])
    try:
        check_args(args)
        output = RunFolder.open(args.output, run_settings(args), resume=True).path
        settings = run_settings(args)
        timings, rows = {}, []
        instance = instance_setup(args, output) if "instance" in args.parts else None
        semantic = semantic_setup(args, output) if "semantic" in args.parts else None
        run_evidence_grid(args, (instance.jobs if instance else []) + (semantic[2] if semantic else []), timings)
        if instance:
            rows += instance_part_rows(args, instance)
        if semantic:
            rows += semantic_part_rows(args, output, semantic[0], semantic[1], timings)
        verdict_lines = verdicts(rows, args.bootstrap_rounds)
        text = write_report(command, settings, rows, timings, output, verdict_lines)
    except UserInputError as err:
        raise SystemExit("error: " + " ".join(str(err).split())) from None
    print(text)
    print("\n".join(["", *verdict_lines, "", f"wrote {output / 'evidence.md'}, {output / 'pr_curves.png'}"]))
    return 0


if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
