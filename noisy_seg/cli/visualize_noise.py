#!/usr/bin/env python
"""Draw clean vs noisy labels side by side (detectron2's Visualizer) into one PNG.

    python tools/visualize_noise.py --noise sym40 --output output/noise_sym40.png
    python tools/visualize_noise.py --dataset toy_shapes_train --noise coco_n_hard --images 6
    python tools/visualize_noise.py --dataset toy_shapes_cityscapes_sem_seg_train --noise sem30 --background-label 0
    python tools/visualize_noise.py --dataset my_train.json --like toy_shapes_train --noise coco_n_medium
    python tools/visualize_noise.py --config-file my_config.py --noise sym40   # the config's training set

Left ("clean"): the dataset's labels. Right ("noisy: <noise>"): what the noisy mapper trains on for the same image
(the same keyed noise as tools/make_noisy_dataset.py). Instance datasets: an object keeps its colour in both
panels; a changed one has a dashed red box and says what happened ("circle -> square", "(dilate)"), a moved mask
shows its clean outline in white, a dropped annotation its clean box in grey. Semantic datasets (records with a
label map): the clean and the noisy map, the pixels the noise changed outlined in red.
"""

import argparse
import copy
import sys
from pathlib import Path

from noisy_seg.utils.library_warnings import quiet_library_warnings

quiet_library_warnings()  # before detectron2 is imported

import numpy as np

import detectron2.data.transforms as T
from detectron2.data import DatasetCatalog, Metadata, MetadataCatalog
from detectron2.data import detection_utils as utils
from detectron2.utils.colormap import colormap
from detectron2.utils.visualizer import GenericMask, Visualizer

from noisy_seg.data import (
    NoisyDatasetMapper,
    NoisySemSegDatasetMapper,
    add_register_argument,
    register_from_args,
)
from noisy_seg.data.datasets.noisy_label_maps import changed_components
from noisy_seg.data.mappers import read_label_map
from noisy_seg.engine import add_dataset_arguments, dataset_of_args
from noisy_seg.noise import record_image_id
from noisy_seg.utils.errors import UserInputError, tool_exit_status
from noisy_seg.utils.files import write_image

MAX_IMAGES = 64  # rows of one PNG; beyond this it is no longer a figure
SCALE = 2.0
DEFAULT_NOISE = {"instance": "sym40", "semantic": "sem30"}
PALETTE = colormap(rgb=True, maximum=1)  # detectron2's colours: one per object (instance) or class (semantic)
CHANGED, DROPPED, MOVED_FROM = (1.0, 0.15, 0.15), (0.6, 0.6, 0.6), (1.0, 1.0, 1.0)
MARGIN_COLOR = 255  # white around the image: titles and labels that reach past the image edge
_SOURCE = "visualize_noise_index"  # marks each annotation with its index, to find it again after the noise


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_arguments(
        parser, dataset_help="a registered instance or semantic segmentation dataset (default: toy_shapes_train)"
    )
    parser.add_argument(
        "--noise",
        default=None,
        help="a noise name or spec of noisy_seg/noise/registry.py (default: sym40 for instance "
        "datasets, sem30 for semantic ones)",
    )
    parser.add_argument(
        "--background-label",
        type=int,
        default=None,
        help="semantic datasets: the background class the training mapper is given (toy and "
        "Cityscapes configs: 0, road), for noise names that take one",
    )
    parser.add_argument("--images", type=int, default=4, help=f"rows to draw, 1-{MAX_IMAGES}")
    parser.add_argument("--output", type=Path, default=Path("output/noise_examples.png"), help="a .png file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    add_register_argument(parser)
    return parser.parse_args(argv)


def check_args(args):
    """(kind, records, metadata, noise model or None) for valid arguments; UserInputError (one line) otherwise.
    kind is "instance" or "semantic"; the noise model is what the noisy mapper of that kind builds."""
    if not 1 <= args.images <= MAX_IMAGES:
        raise UserInputError(f"--images must be between 1 and {MAX_IMAGES}, got {args.images}")
    if args.output.is_dir():
        raise UserInputError(f"--output {args.output} is a directory; give a .png file path")
    if args.output.suffix.lower() != ".png":
        raise UserInputError(f"--output {args.output} must end in .png")
    if args.output.exists() and not args.overwrite:
        raise UserInputError(f"--output {args.output} exists; pass --overwrite to replace it")
    if args.dataset is None and args.config_file is None:
        args.dataset = "toy_shapes_train"
    args.dataset = dataset_of_args(args)
    metadata = MetadataCatalog.get(args.dataset)
    records = DatasetCatalog.get(args.dataset)
    if any(record.get("annotations") for record in records):
        kind, classes = "instance", metadata.get("thing_classes", None)
    elif any("sem_seg_file_name" in record for record in records):
        kind, classes = "semantic", metadata.get("stuff_classes", None)
    else:
        raise UserInputError(
            f"dataset '{args.dataset}' has neither instance annotations nor semantic label maps to draw"
        )
    if not classes:
        raise UserInputError(
            f"dataset '{args.dataset}' has no {'thing' if kind == 'instance' else 'stuff'}_classes "
            "in its metadata: they name the labels"
        )
    args.noise = args.noise or DEFAULT_NOISE[kind]
    try:
        if kind == "instance":
            noise = NoisyDatasetMapper.build_noise(args.noise, len(classes))
        else:
            noise = NoisySemSegDatasetMapper.build_noise(
                args.noise, len(classes), args.background_label, metadata.get("ignore_label", None)
            )
    except ValueError as err:
        raise UserInputError(str(err)) from None
    return kind, records, metadata, noise


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        register_from_args(args)
        kind, records, metadata, noise = check_args(args)
        rows = (instance_rows if kind == "instance" else semantic_rows)(records, metadata, noise, args)
    except (UserInputError, ValueError) as e:
        sys.exit(f"error: {e}")
    try:
        write_image(args.output, stack(rows)[:, :, ::-1])
    except OSError as e:
        sys.exit(f"error: {e}")  # "could not write <--output>: <why>"
    print(f"wrote {args.output}: {len(rows)} images, left clean, right {args.noise}")
    return 0


# ------------------------------------------------------------------------------------------------------ instance
def instance_rows(records, metadata, pipeline, args) -> list:
    """(clean | noisy) panels of up to args.images records, preferring ones where the noise changed something."""
    samples, unchanged = [], []
    for record in records:
        if not record.get("annotations"):
            continue
        image = utils.read_image(record["file_name"], format="BGR")
        clean = [{**ann, _SOURCE: i} for i, ann in enumerate(record["annotations"])]  # the noise ignores extra keys
        noisy = (
            clean
            if pipeline is None
            else pipeline.apply_to_annotations(clean, record["image_id"], image_hw=image.shape[:2], image=image)
        )
        changed = len(noisy) < len(clean) or any(ann.get("noise", "clean") != "clean" for ann in noisy)
        (samples if changed or pipeline is None else unchanged).append((image[:, :, ::-1], clean, noisy))
        if len(samples) == args.images or len(samples) + len(unchanged) == 4 * args.images:
            break
    samples = (samples + unchanged)[: args.images]
    names = metadata.thing_classes
    longest = max(
        len(text)
        for _, clean, noisy in samples
        for texts in instance_texts(clean, noisy, names)[:2]
        for text in texts.values()
    )  # one margin for every row, so that the panels line up
    return [draw_instance_pair(*sample, metadata, args.noise, longest) for sample in samples]


def instance_texts(clean, noisy, names):
    """({index: clean label}, {index: noisy label}, moved indices, dropped indices) of one image's annotations;
    a noisy label says what the noise did: "circle -> square", "circle (dilate)", "circle (dropped)"."""
    clean_texts = {ann[_SOURCE]: names[ann["category_id"]] for ann in clean}
    noisy_texts, moved = {}, set()
    for ann in noisy:
        text = clean_texts[ann[_SOURCE]]
        if ann["category_id"] != ann.get("clean_category_id", ann["category_id"]):
            text += f" -> {names[ann['category_id']]}"
        op = ann.get("noise", "clean").replace("class_flip", "").strip("+")
        if op not in ("", "clean") and not op.endswith("_skipped"):  # skipped: it would have left no pixel
            text += f" ({op})"
            moved.add(ann[_SOURCE])
        noisy_texts[ann[_SOURCE]] = text
    dropped = set(clean_texts) - set(noisy_texts)
    noisy_texts.update({source: f"{clean_texts[source]} (dropped)" for source in dropped})
    return clean_texts, noisy_texts, moved, dropped


def draw_instance_pair(image_rgb, clean, noisy, metadata, noise_name: str, label_chars: int) -> np.ndarray:
    """The clean and the noisy panel of one image, side by side (RGB), with room for labels of label_chars."""
    clean_texts, noisy_texts, moved, dropped = instance_texts(clean, noisy, metadata.thing_classes)
    pad = margins(image_rgb.shape[:2], label_chars)
    image = pad.apply_image(image_rgb)
    clean, noisy = _padded_annotations(clean, pad), _padded_annotations(noisy, pad)

    left = Visualizer(image, metadata=metadata, scale=SCALE)
    _overlay(left, clean, clean_texts)
    _title(left, "clean", pad)

    right = Visualizer(image, metadata=metadata, scale=SCALE)
    _overlay(right, noisy, noisy_texts)
    clean_by_source = {ann[_SOURCE]: ann for ann in clean}
    for ann in noisy:
        if ann[_SOURCE] in moved:  # where the mask was
            _outline(right, clean_by_source[ann[_SOURCE]]["segmentation"], image.shape[:2])
        if ann[_SOURCE] in moved or ann["category_id"] != ann.get("clean_category_id", ann["category_id"]):
            right.draw_box(_grown(ann["bbox"], 2), edge_color=CHANGED, line_style="--", alpha=1.0)
    for source in sorted(dropped):
        box = clean_by_source[source]["bbox"]
        right.draw_box(box, edge_color=DROPPED, line_style="--", alpha=1.0)
        right.draw_text(noisy_texts[source], (box[0], box[3]), color=DROPPED, horizontal_alignment="left")
    _title(right, f"noisy: {noise_name}", pad)
    return np.hstack([left.output.get_image(), right.output.get_image()])


def _padded_annotations(annotations, pad):
    """The annotations moved onto the padded canvas by detectron2's own annotation transform (XYXY_ABS boxes)."""
    size = (pad.orig_h + pad.y0 + pad.y1, pad.orig_w + pad.x0 + pad.x1)
    return [utils.transform_instance_annotations(copy.deepcopy(ann), [pad], size) for ann in annotations]


def _overlay(vis, annotations, texts):
    """Visualizer.overlay_instances with each object's own colour (its index in the record) and label text."""
    if not annotations:
        return
    vis.overlay_instances(
        boxes=np.array([ann["bbox"] for ann in annotations]),
        masks=[ann["segmentation"] for ann in annotations] if "segmentation" in annotations[0] else None,
        labels=[texts[ann[_SOURCE]] for ann in annotations],
        assigned_colors=[PALETTE[ann[_SOURCE] % len(PALETTE)] for ann in annotations],
    )


def _outline(vis, segmentation, image_hw):
    for polygon in GenericMask(segmentation, *image_hw).polygons:
        vis.draw_polygon(polygon.reshape(-1, 2), color=MOVED_FROM, edge_color=MOVED_FROM, alpha=0.0)


def _grown(box, by):
    x0, y0, x1, y1 = box
    return x0 - by, y0 - by, x1 + by, y1 + by


# ------------------------------------------------------------------------------------------------------ semantic
def semantic_rows(records, metadata, noise, args) -> list:
    """(clean | noisy) label maps of up to args.images records, as NoisySemSegDatasetMapper makes them (no
    augmentation), preferring ones where the noise changed something."""
    mapper = NoisySemSegDatasetMapper(
        is_train=True, augmentations=[], image_format="BGR", noise=noise, keep_clean_sem_seg=True
    )
    classes = metadata.stuff_classes
    colors = metadata.get("stuff_colors", None) or [
        [int(c * 255) for c in PALETTE[i % len(PALETTE)]] for i in range(len(classes))
    ]
    drawn_metadata = Metadata(name=metadata.name).set(stuff_classes=list(classes), stuff_colors=colors)
    ignore = int(metadata.get("ignore_label", 255))
    samples, unchanged = [], []
    for record in records:
        if "sem_seg_file_name" not in record:
            continue
        mapped = mapper(copy.deepcopy(record))
        noisy = mapped["sem_seg"].numpy()
        clean = mapped["sem_seg_clean"].numpy() if "sem_seg_clean" in mapped else noisy
        sample = (
            mapped["image"].permute(1, 2, 0).numpy()[:, :, ::-1],
            clean,
            noisy,
            _named_ops(mapper, record, classes),
        )
        (unchanged if noise is not None and np.array_equal(clean, noisy) else samples).append(sample)
        if len(samples) == args.images or len(samples) + len(unchanged) == 4 * args.images:
            break
    return [
        draw_semantic_pair(*sample[:3], drawn_metadata, args.noise, ignore, ops=sample[3])
        for sample in (samples + unchanged)[: args.images]
    ]


def _named_ops(mapper, record, classes) -> list:
    """(text, (x, y) centre) of each component the mapper's component noise changed in `record`'s map: the op, and
    for a relabel its new class ("relabel: car"); [] for noise without components (the boundary model)."""
    if mapper.noise is None or not hasattr(mapper.noise, "apply_with_plan"):
        return []
    plan, _ = mapper.noise.plan(read_label_map(record["sem_seg_file_name"]), record_image_id(record))
    named = []
    for component in changed_components(plan):
        x, y, w, h = component["box"]
        text = component["op"] + (f": {classes[component['target']]}" if component["op"] == "relabel" else "")
        named.append((text, (x + w / 2, y + h / 2)))
    return named


def draw_semantic_pair(image_rgb, clean, noisy, metadata, noise_name: str, ignore_label: int, ops=()) -> np.ndarray:
    """Clean and noisy label maps of one image (Visualizer.draw_sem_seg), changed pixels outlined in red, each
    changed component's op (`ops`: (text, (x, y)) in the map's pixels) named on the noisy map."""
    pad = margins(image_rgb.shape[:2], max(len(name) for name in metadata.stuff_classes), centred=True)
    pad.seg_pad_value = ignore_label
    image = pad.apply_image(np.ascontiguousarray(image_rgb))
    clean, noisy = pad.apply_segmentation(clean), pad.apply_segmentation(noisy)
    panels = []
    for title, label_map in (("clean", clean), (f"noisy: {noise_name}", noisy)):
        vis = Visualizer(image, metadata=metadata, scale=SCALE)
        vis.draw_sem_seg(label_map, alpha=0.6)
        if label_map is noisy and not np.array_equal(clean, noisy):
            vis.draw_binary_mask(
                (clean != noisy).astype(np.uint8), color=CHANGED, edge_color=CHANGED, alpha=0.35, area_threshold=0
            )
        if label_map is noisy:
            for text, (x, y) in ops:
                vis.draw_text(text, (x + pad.x0, y + pad.y0), color=CHANGED, horizontal_alignment="center")
        _title(vis, title, pad)
        panels.append(vis.output.get_image())
    return np.hstack(panels)


# ------------------------------------------------------------------------------------------------------ layout
def margins(image_hw, label_chars: int, centred: bool = False) -> T.PadTransform:
    """A white border around the image as a detectron2 transform, so that annotations and label maps move with it:
    room for the panel title above, and for labels of up to label_chars characters that would otherwise run past
    the image edge (detectron2 writes an instance's label from its box corner rightwards and downwards, a region's
    `centred` on it)."""
    h, w = image_hw
    font = max(np.sqrt(h * w) // 90, 10 // SCALE)  # Visualizer's default font size (image pixels)
    width = int(np.ceil(0.7 * font * label_chars))
    left, right = (width // 2, width // 2) if centred else (int(font), width)
    return T.PadTransform(
        left, int(np.ceil(3 * font)), right, int(np.ceil(2 * font)), orig_w=w, orig_h=h, pad_value=MARGIN_COLOR
    )


def _title(vis, text, pad):
    width = pad.orig_w + pad.x0 + pad.x1
    vis.draw_text(text, (width / 2, pad.y0 * 0.15), color=(1.0, 1.0, 1.0), horizontal_alignment="center")


def stack(rows) -> np.ndarray:
    """Rows of panels one below the other, narrower rows padded white on the right (images differ in size)."""
    width = max(row.shape[1] for row in rows)
    return np.vstack(
        [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=MARGIN_COLOR) for row in rows]
    )


if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
