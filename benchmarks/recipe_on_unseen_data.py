#!/usr/bin/env python
"""Train the toy recipes, unchanged, on data they were never tuned on: does the recipe hold off the toy set?

    python benchmarks/recipe_on_unseen_data.py                      # instance + semantic, seeds 0 1 2
    python benchmarks/recipe_on_unseen_data.py --task instance --seeds 0
    python benchmarks/recipe_on_unseen_data.py --task instance --seeds 0 --set train.init_checkpoint= \
        --output output/unseen_data_scratch                         # the control: the same recipe from scratch

The data: 6 classes none of the toy set's 8 (gear, dumbbell, zigzag, keyhole, spiral, a script glyph), drawn by
their own generator (gradient fills, a gradient-and-grain background, thin line clutter) at 96 px with 1-5
objects of 12-45 px, 512 train / 96 val images, written once to OUTPUT/data as COCO json + semantic label maps
(background 0, classes 1-6). Each run is tools/train_net.py on configs/toy/mask_rcnn_R18_FPN_ce.py or
configs/toy/semantic_R18_FPN_ce.py with only what the data dictates overridden (dataset names, class count,
output folder): the schedule, the LR and the pretrained backbone are the toy recipe's. OUTPUT/summary.md holds
mean +- std over seeds.
"""

from __future__ import annotations

import argparse
import runpy
import statistics
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_util

from noisy_seg.engine.launcher import training_environment
from noisy_seg.engine.metrics import final_metrics
from noisy_seg.utils.files import save_json_atomic, write_atomic, write_image

REPO_ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("gear", "dumbbell", "zigzag", "keyhole", "spiral", "script_g")
IMAGE_SIZE = 96
SPLITS = {"train": 512, "val": 96}


def _class_mask(name: str, rng: np.random.Generator, size: float, center: np.ndarray) -> np.ndarray:
    """A filled uint8 mask of one object of class `name`, about `size` px across, at a random angle."""
    mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    angle = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    def place(points):
        return np.round(points @ rot.T * size / 2 + center).astype(np.int32)

    if name == "gear":
        t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        radius = np.where((t * 8 / (2 * np.pi)) % 1 < 0.5, 1.0, 0.72)
        cv2.fillPoly(mask, [place(np.stack([np.cos(t), np.sin(t)], 1) * radius[:, None])], 1)
        cv2.circle(mask, tuple(place(np.zeros((1, 2)))[0]), max(1, int(size * 0.12)), 0, -1)
    elif name == "dumbbell":
        ends = place(np.array([[-0.7, 0.0], [0.7, 0.0]]))
        cv2.line(mask, tuple(ends[0]), tuple(ends[1]), 1, max(2, int(size * 0.12)))
        for end in ends:
            cv2.circle(mask, tuple(end), max(2, int(size * 0.22)), 1, -1)
    elif name == "zigzag":
        points = place(np.stack([np.linspace(-1, 1, 5), np.array([-0.4, 0.4, -0.4, 0.4, -0.4])], 1))
        cv2.polylines(mask, [points], False, 1, max(2, int(size * 0.14)))
    elif name == "keyhole":
        cv2.circle(mask, tuple(place(np.array([[0.0, -0.35]]))[0]), max(2, int(size * 0.3)), 1, -1)
        cv2.fillPoly(mask, [place(np.array([[-0.2, -0.2], [0.2, -0.2], [0.4, 0.9], [-0.4, 0.9]]))], 1)
    elif name == "spiral":
        t = np.linspace(0, 3.5 * np.pi, 60)
        points = place(np.stack([np.cos(t), np.sin(t)], 1) * (0.15 + 0.85 * t / t[-1])[:, None])
        cv2.polylines(mask, [points], False, 1, max(2, int(size * 0.1)))
    else:  # script_g
        scale = size / 30.0
        (w, h), _ = cv2.getTextSize("g", cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, scale, 1)
        origin = (int(center[0] - w / 2), int(center[1] + h / 4))
        cv2.putText(mask, "g", origin, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, scale, 1, max(2, int(scale * 2.5)))
    return mask


def render(split: str, index: int) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """(BGR image, [(class index, visible mask)]) of one image, keyed by split and index."""
    rng = np.random.default_rng([7919, list(SPLITS).index(split), index])
    ys, xs = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] / IMAGE_SIZE
    top, bottom = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    image = top * (1 - ys[..., None]) + bottom * ys[..., None] + rng.normal(0, 12, (IMAGE_SIZE, IMAGE_SIZE, 3))
    for _ in range(int(rng.integers(0, 4))):  # thin clutter lines: unlabelled, as in real scenes
        a, b = rng.integers(0, IMAGE_SIZE, 2), rng.integers(0, IMAGE_SIZE, 2)
        cv2.line(image, tuple(int(v) for v in a), tuple(int(v) for v in b), rng.uniform(0, 255, 3).tolist(), 1)
    owner = np.full((IMAGE_SIZE, IMAGE_SIZE), -1, np.int32)
    classes = []
    for k in range(int(rng.integers(1, 6))):
        label = int(rng.integers(len(CLASSES)))
        mask = _class_mask(CLASSES[label], rng, rng.uniform(12, 45), rng.uniform(14, IMAGE_SIZE - 14, 2))
        colour_a, colour_b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        fill = colour_a * (1 - xs[..., None]) + colour_b * xs[..., None]
        image[mask > 0] = fill[mask > 0]
        owner[mask > 0] = k
        classes.append(label)
    objects = []
    for k, label in enumerate(classes):
        visible = (owner == k).astype(np.uint8)
        if visible.sum() >= 30:
            objects.append((label, visible))
    return np.clip(image, 0, 255).astype(np.uint8), objects


def write_data(root: Path) -> None:
    """COCO json + images + semantic label maps for both splits, once (a finished set has DONE)."""
    if (root / "DONE").exists():
        return
    for split, count in SPLITS.items():
        images, annotations = [], []
        for index in range(count):
            image, objects = render(split, index)
            name = f"{split}_{index:05d}.png"
            write_image(root / "images" / name, image)
            label_map = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
            for label, visible in objects:
                label_map[visible > 0] = label + 1
                rle = mask_util.encode(np.asfortranarray(visible))
                x, y, w, h = mask_util.toBbox(rle).tolist()
                rle["counts"] = rle["counts"].decode("ascii")
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": index + 1,
                        "category_id": label + 1,
                        "segmentation": rle,
                        "bbox": [x, y, w, h],
                        "area": int(visible.sum()),
                        "iscrowd": 0,
                    }
                )
            write_image(root / "labels" / name, label_map)
            images.append({"id": index + 1, "file_name": name, "height": IMAGE_SIZE, "width": IMAGE_SIZE})
        categories = [{"id": i + 1, "name": c} for i, c in enumerate(CLASSES)]
        save_json_atomic(
            {"images": images, "annotations": annotations, "categories": categories}, root / f"{split}.json"
        )
    (root / "DONE").write_text("")


def register(root: Path) -> None:
    """Register unseen_{train,val} (COCO instances) and unseen_sem_seg_{train,val} (label maps)."""
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from detectron2.data.datasets import load_sem_seg, register_coco_instances

    for split in SPLITS:
        register_coco_instances(f"unseen_{split}", {}, str(root / f"{split}.json"), str(root / "images"))
        name = f"unseen_sem_seg_{split}"
        DatasetCatalog.register(
            name,
            lambda split=split: [
                d
                for d in load_sem_seg(str(root / "labels"), str(root / "images"), "png", "png")
                if Path(d["file_name"]).name.startswith(split)
            ],
        )
        MetadataCatalog.get(name).set(
            stuff_classes=["background", *CLASSES], ignore_label=255, evaluator_type="sem_seg"
        )


OVERRIDES = {
    "instance": (
        "configs/toy/mask_rcnn_R18_FPN_ce.py",
        [
            "dataloader.train.dataset.names=unseen_train",
            "dataloader.test.dataset.names=unseen_val",
            "dataloader.train.mapper.instance_mask_format=bitmask",
            f"model.roi_heads.num_classes={len(CLASSES)}",
        ],
    ),
    "semantic": (
        "configs/toy/semantic_R18_FPN_ce.py",
        [
            "dataloader.train.dataset.names=unseen_sem_seg_train",
            "dataloader.test.dataset.names=unseen_sem_seg_val",
            f"model.sem_seg_head.num_classes={len(CLASSES) + 1}",
            "dataloader.train.mapper.background_label=0",
            "model.sem_seg_head.ignore_value=255",
        ],
    ),
}
METRIC = {"instance": ("segm/AP", "mask AP"), "semantic": ("sem_seg/mIoU", "mIoU")}
TRAIN_FLAG = "--train-on-registered"  # internal: register the set, then run tools/train_net.py with the rest


def train_on_registered(data: Path, train_net_args: list[str]) -> None:
    """tools/train_net.py in this process, after registering the unseen set (it takes registered names only)."""
    register(data)
    sys.argv = ["train_net.py", *train_net_args]
    runpy.run_path(str(REPO_ROOT / "tools/train_net.py"), run_name="__main__")


def train(task: str, seed: int, output: Path, data: Path, extra: list[str]) -> dict:
    if not (output / "model_final.pth").exists():
        config, overrides = OVERRIDES[task]
        args = ["--config-file", config, *overrides, *extra, f"train.seed={seed}", f"train.output_dir={output}"]
        with open(output.parent / f"{output.name}.log", "w") as log:  # this file again, as the trainer (below)
            subprocess.run(
                [sys.executable, __file__, TRAIN_FLAG, str(data), *args],
                cwd=REPO_ROOT,
                check=True,
                stdout=log,
                stderr=log,
                env=training_environment(),
            )
    return final_metrics(output)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=("instance", "semantic", "both"), default="both")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "output/unseen_data")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="overrides for every run")
    args = parser.parse_args()
    write_data(args.output / "data")
    lines = [
        "| task | metric | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean +- std |",
        "|---|---|" + "---|" * (len(args.seeds) + 1),
    ]
    for task in ("instance", "semantic") if args.task == "both" else (args.task,):
        key, label = METRIC[task]
        values = []
        for seed in args.seeds:
            folder = args.output / f"{task}_s{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            values.append(train(task, seed, folder, args.output / "data", args.set)[key])
            print(f"{task} seed {seed}: {label} {values[-1]:.1f}", flush=True)
        summary = (
            f"{statistics.mean(values):.1f} +- {statistics.stdev(values):.1f}"
            if len(values) > 1
            else f"{values[0]:.1f} (one seed)"
        )
        lines.append(f"| {task} | {label} | " + " | ".join(f"{v:.1f}" for v in values) + f" | {summary} |")
    write_atomic(args.output / "summary.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == [TRAIN_FLAG]:
        train_on_registered(Path(sys.argv[2]), sys.argv[3:])
    else:
        raise SystemExit(main())
