#!/usr/bin/env python
"""Find label errors in a semantic segmentation dataset (Rottmann & Reese, seed 002; noisy_seg.label_errors.semantic):
objects the label maps lack where a trained model confidently sees them.

    python tools/find_semantic_label_errors.py --config-file configs/toy/semantic_R18_FPN_ce.py \\
        --weights output/toy/semantic_R18_FPN_ce/model_final.pth --dataset toy_shapes_cityscapes_sem_seg_val \\
        --output output/label_errors/toy_semantic [--top 100]

The config's model (its --weights loaded strictly: weights of another architecture or class count are an error)
predicts every image of --dataset (a registered semantic dataset with label maps; detectron2's test loader and the
config's test mapper); of its softmax, each predicted connected component gets the seed's uncertainty and geometry
metrics and its adjusted IoU with the dataset's label map. The meta classifier (L1 logistic regression, --solver) is
fitted on a random half of the images (--seed) and predicts on the other half how likely each component is a true
positive; a component the label does not have (IoU_adj = 0) of at least --min-size pixels and of a class of
--classes (default: all) that it nevertheless calls a true positive is a proposal, the --top most likely listed.
With --both-halves a second classifier, fitted on the search half, scores the first half too, so every image is
searched. The model should not have been trained on these label maps, or it has learnt their errors (predictions on
its own training images are in-sample).

Writes OUTPUT/proposals.json (settings, the meta classifiers' chosen C and accuracy, and the proposals best first:
rank, image id, file name, class id and name, bbox [x0, y0, x1, y1] in pixels (XYXY_ABS), component area in pixels,
score = predicted P(true positive)) and OUTPUT/proposals/<rank>_<image stem>.png for each: the given label map (left)
and the proposed component (right), drawn with detectron2's Visualizer. The components (per component its
metrics, class, box and adjusted IoU; the candidates' masks as RLE; no pixel map) are kept in OUTPUT/components/ as
columnar shards of 50 images (noisy_seg.label_errors.semantic.table, memory-mapped on read), so memory grows with the
number of components, not of images; --max-fit-components fits the meta classifier on a seeded sample of the
training half's components when there are more (default: all, as the seed). OUTPUT must be new or empty; with
--resume an interrupted run there with the same settings goes on from its last shard. Trailing key=value arguments
override the config (e.g. train.device=cpu).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

import numpy as np
from tqdm import tqdm

from detectron2.data import MetadataCatalog
from detectron2.data.detection_utils import read_image
from detectron2.utils import comm
from detectron2.utils.visualizer import Visualizer

from noisy_seg.data import add_register_argument, register_from_args
from noisy_seg.data.datasets.noisy_label_maps import injected_components
from noisy_seg.engine import load_lazy_config, resolve_config_file
from noisy_seg.evaluation.sem_seg import load_label_map
from noisy_seg.engine.ddp import add_launch_arguments, check_launch_arguments, launch_from_args
from noisy_seg.inference import build_model, check_fits, mapper_settings, on_cpu, predicted_classes
from noisy_seg.noise import record_image_id
from noisy_seg.inference.loop import first_process
from noisy_seg.label_errors.semantic import MIN_PROPOSAL_SIZE, NUM_PROPOSALS, SOLVERS
from noisy_seg.label_errors.semantic.filter import find_table_proposals
from noisy_seg.label_errors.semantic.rank import score_table
from noisy_seg.label_errors.semantic.summary import injected_noise_found
from noisy_seg.pseudo_labels.semantic_evidence import labelled_semantic_dataset, predict_components
from noisy_seg.utils.columns import fingerprint
from noisy_seg.utils.errors import UserInputError, tool_exit_status
from noisy_seg.utils.files import file_sha256, load_json, save_json_atomic, write_image
from noisy_seg.utils.run_folder import FINISHED, RunFolder, folder_problem

PROPOSALS_JSON = "proposals.json"
PROPOSALS_DIR = "proposals"
COMPONENTS_DIR = "components"  # the components in columnar shards (label_errors/semantic/table.py)
BOX_COLOR = "r"
MIN_WIDTH = 480  # pixels of a drawn panel


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True, help="the LazyConfig the weights were trained with")
    parser.add_argument("--weights", required=True, help="the trained semantic model's checkpoint (.pth)")
    parser.add_argument("--dataset", required=True, help="a registered semantic dataset with label maps")
    parser.add_argument("--output", required=True, help="a new (or empty) folder")
    parser.add_argument(
        "--top", type=int, default=NUM_PROPOSALS, help=f"proposals listed and drawn (default {NUM_PROPOSALS})"
    )
    parser.add_argument("--classes", nargs="+", help="classes to search (names or train ids; default: all)")
    parser.add_argument(
        "--min-size",
        type=int,
        default=MIN_PROPOSAL_SIZE,
        help=f"smallest proposal in pixels (default {MIN_PROPOSAL_SIZE})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the 50/50 image split (default 0)")
    parser.add_argument(
        "--both-halves",
        action="store_true",
        help="search every image (a second classifier fitted on the search half scores the first)",
    )
    parser.add_argument(
        "--solver",
        choices=SOLVERS,
        default="saga",
        help="the L1 logistic regression's solver: saga (the seed's) or liblinear (the same "
        "objective, several times faster)",
    )
    parser.add_argument("--batch-size", type=int, default=1, help="images per forward pass (default 1)")
    parser.add_argument("--num-workers", type=int, default=0, help="data loading processes (default 0)")
    parser.add_argument(
        "--max-fit-components",
        type=int,
        help="fit the meta classifier on a seeded sample of this many training components when there are more "
        "(default: all)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run in --output with the same settings"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_launch_arguments(parser)  # each process predicts its share of the images; the first fits and writes
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides, key=value")
    add_register_argument(parser)
    args = parser.parse_args(argv)
    if args.classes:  # --classes a b key=value: the overrides are no classes
        args.opts = [item for item in args.classes if "=" in item] + args.opts
        args.classes = [item for item in args.classes if "=" not in item]
    return args


def check_args(args) -> None:
    """Checks that read no dataset: numbers, the input files, and the output folder (new or empty)."""
    if args.top < 1 or args.min_size < 1:
        raise UserInputError(f"--top and --min-size must be at least 1, got {args.top} and {args.min_size}")
    if args.max_fit_components is not None and args.max_fit_components < 2:
        raise UserInputError(f"--max-fit-components must be at least 2, got {args.max_fit_components}")
    if args.batch_size < 1 or args.num_workers < 0:
        raise UserInputError(
            f"--batch-size must be at least 1 and --num-workers at least 0, got {args.batch_size} "
            f"and {args.num_workers}"
        )
    args.config_file = resolve_config_file(args.config_file)  # a path, or a packaged config's name
    if not os.path.isfile(args.weights):
        raise UserInputError(f"--weights {args.weights} not found; pass the trained model's .pth file")
    problem = folder_problem(args.output, "--output", resume=args.resume)
    if problem:
        raise UserInputError(problem)


def resolve_classes(given, class_names) -> list[int]:
    """--classes (names or train ids) as train ids; None: every class."""
    if not given:
        return list(range(len(class_names)))
    resolved = []
    for item in given:
        if item in class_names:
            resolved.append(class_names.index(item))
        elif item.isdigit() and int(item) < len(class_names):
            resolved.append(int(item))
        else:
            raise UserInputError(
                f"--classes: {item!r} is neither a class name nor a train id in [0, "
                f"{len(class_names)}) ({', '.join(class_names[:5])}, ...)"
            )
    return sorted(set(resolved))


def draw_proposal(record, table, proposal, metadata, class_names) -> np.ndarray:
    """The given label map (left) and the proposed component (right) on the image, its box on both; BGR."""
    rgb = read_image(record["file_name"], format="RGB")
    given = load_label_map(record["sem_seg_file_name"])
    mask = np.zeros(given.shape[:2], np.uint8)
    x0, y0, x1, y1 = proposal["bbox"]
    mask[y0:y1, x0:x1] = table.mask(proposal["row"])
    box = (x0, y0, x1, y1)
    scale = max(1.0, MIN_WIDTH / rgb.shape[1])  # small images: readable text
    left = Visualizer(rgb, metadata=metadata, scale=scale)
    left.draw_sem_seg(given, alpha=0.5)
    left.draw_box(box, edge_color=BOX_COLOR)
    left.draw_text("given label", (rgb.shape[1] / 2, 2), color=(1.0, 1.0, 1.0), horizontal_alignment="center")
    right = Visualizer(rgb, metadata=metadata, scale=scale)
    colors = metadata.get("stuff_colors", None)
    color = [c / 255 for c in colors[proposal["class"]]] if colors else None
    right.draw_binary_mask(
        mask,
        color=color,
        edge_color=color,
        alpha=0.6,
        area_threshold=0,
        text=f"{class_names[proposal['class']]} {proposal['score']:.2f}",
    )
    right.draw_box(box, edge_color=BOX_COLOR)
    right.draw_text("proposal", (rgb.shape[1] / 2, 2), color=(1.0, 1.0, 1.0), horizontal_alignment="center")
    return np.hstack([left.output.get_image(), right.output.get_image()])[:, :, ::-1]


def injected_noise(metadata, records, info, both_halves: bool) -> Optional[dict]:
    """{image key: its changed components} of the searched images (every image with `both_halves`) when the dataset
    is a noisy-label-map folder whose manifest records them (make-noisy-dataset --dataset with component noise);
    else None."""
    folder = metadata.get("noisy_label_maps", None)
    if folder is None:
        return None
    injected = injected_components(folder)
    if not injected:
        return None
    searched = {record_image_id(records[i]) for i in (range(len(records)) if both_halves else info["search_images"])}
    return {key: components for key, components in injected.items() if key in searched}


def write_outputs(
    output: Path, records, table, proposals, info, settings, metadata, class_names, progress: bool
) -> None:
    listed = []
    for rank, proposal in enumerate(proposals, start=1):
        record = records[proposal["image"]]
        listed.append(
            {
                "rank": rank,
                "image_id": record_image_id(record),
                "file_name": record["file_name"],
                "class_id": proposal["class"],
                "class": class_names[proposal["class"]],
                "bbox": proposal["bbox"],
                "bbox_mode": "XYXY_ABS",
                "area": proposal["area"],
                "score": proposal["score"],
            }
        )
    injected = injected_noise(metadata, records, info, settings["both_halves"])
    save_json_atomic(
        {
            "settings": settings,
            "images": table.num_images,
            "components": len(table),
            "meta_classifier": info,
            **({"injected_noise": injected_noise_found(listed, injected)} if injected is not None else {}),
            "proposals": listed,
        },
        output / PROPOSALS_JSON,
        indent=True,
    )
    for entry, proposal in tqdm(list(zip(listed, proposals)), desc="drawing proposals", disable=not progress):
        drawing = draw_proposal(records[proposal["image"]], table, proposal, metadata, class_names)
        path = output / PROPOSALS_DIR / f"{entry['rank']:03d}_{Path(entry['file_name']).stem}.png"
        write_image(path, drawing)


def check_inputs(args, check_weights: bool = True):
    """Every check before any model runs: (config, records, class names, the classes to search). Several processes:
    the parent checks the weights on a CPU copy of the model (`check_weights`), so they are one error line."""
    check_args(args)
    check_launch_arguments(args)
    register_from_args(args)  # in every process launch starts
    cfg = load_lazy_config(args.config_file, args.opts)
    records, class_names, _ = labelled_semantic_dataset(args.dataset)
    classes = resolve_classes(args.classes, class_names)
    if check_weights and args.num_gpus * args.num_machines > 1:
        check_fits(predicted_classes(build_model(on_cpu(cfg), args.weights)), len(class_names), args.dataset)
    return cfg, records, class_names, classes


def run(args, checked=None) -> Optional[dict]:
    """Score, fit, propose and write (the first process opens the folder and writes; the others return None)."""
    cfg, records, class_names, classes = checked or check_inputs(args)
    model = build_model(cfg, args.weights)
    check_fits(predicted_classes(model), len(class_names), args.dataset)
    settings = {
        "config_file": args.config_file,
        "weights": str(Path(args.weights).resolve()),
        "dataset": args.dataset,
        "classes": [class_names[c] for c in classes],
        "min_size": args.min_size,
        "top": args.top,
        "seed": args.seed,
        "both_halves": args.both_halves,
        "solver": args.solver,
        "max_fit_components": args.max_fit_components,
        "overrides": list(args.opts),
    }
    folder = first_process(lambda: RunFolder.open(args.output, settings, resume=args.resume))
    if folder.state == FINISHED:
        return load_json(folder.path / PROPOSALS_JSON) if comm.is_main_process() else None
    table = predict_components(
        model,
        records,
        min_size=args.min_size,
        shard_dir=folder.path / COMPONENTS_DIR,
        fingerprint=fingerprint({"settings": settings, "weights": file_sha256(args.weights)}),
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        progress=not args.no_progress,
        **mapper_settings(cfg),
    )
    if not comm.is_main_process():
        return None
    if not args.no_progress:
        print(
            f"fitting the meta classifier ({args.solver}) on the components of {table.num_images // 2} of "
            f"{table.num_images} images ...",
            file=sys.stderr,
        )
    try:
        scores, info = score_table(
            table,
            seed=args.seed,
            both_halves=args.both_halves,
            solver=args.solver,
            max_fit_rows=args.max_fit_components,
        )
    except ValueError as err:  # e.g. no component with an inner pixel in the training half
        raise UserInputError(f"dataset '{args.dataset}': {err}") from None
    proposals = find_table_proposals(table, scores, classes=classes, min_size=args.min_size, top=args.top)
    write_outputs(
        folder.path,
        records,
        table,
        proposals,
        info,
        settings,
        MetadataCatalog.get(args.dataset),
        class_names,
        progress=not args.no_progress,
    )
    folder.finish()
    return load_json(folder.path / PROPOSALS_JSON)


def _process(args) -> None:
    """One of several processes (detectron2's launch): its share of the images; the first reports."""
    summary = run(args, check_inputs(args, check_weights=False))
    if summary is not None:
        report(args, summary)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        checked = check_inputs(args)
        if args.num_gpus * args.num_machines > 1:
            launch_from_args(_process, args, args)
            return 0
        summary = run(args, checked)
    except UserInputError as err:
        raise SystemExit("error: " + " ".join(str(err).split())) from None
    except OSError as err:  # writing the outputs, e.g. a full disk (nothing is left half-written)
        raise SystemExit("error: " + " ".join(str(err).split())) from None
    report(args, summary)
    return 0


def report(args, summary: dict) -> None:
    """One line from proposals.json."""
    searched = len(summary["meta_classifier"]["search_images"]) * (2 if args.both_halves else 1)
    accuracy = ", ".join(f"{fit['accuracy']:.2f}" for fit in summary["meta_classifier"]["classifiers"])
    count = len(summary["proposals"])
    drawn = f" and {Path(args.output) / PROPOSALS_DIR}/" if count else ""
    print(
        f"{count} label-error proposals in {min(searched, summary['images'])} searched images of "
        f"{args.dataset} (meta classifier accuracy {accuracy}); wrote {Path(args.output) / PROPOSALS_JSON}{drawn}"
    )
    found = summary.get("injected_noise")
    if found:  # the dataset's noise was injected offline and its manifest says which components changed
        precision = "n/a" if found["precision"] is None else f"{found['precision']:.2f}"
        recall = "n/a" if found["recall"] is None else f"{found['recall']:.2f}"
        ops = ", ".join(f"{op} {entry['found']}/{entry['components']}" for op, entry in found["by_op"].items())
        print(
            f"against the injected noise: precision {precision} ({found['true_positives']} of {found['proposals']} "
            f"proposals on a changed component), recall {recall} ({found['found']} of {found['components']} changed "
            f"components of the searched images: {ops})"
        )


if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
