#!/usr/bin/env python
"""Write a noisy copy of a COCO-format instance dataset (or of a Cityscapes split).

    python tools/make_noisy_dataset.py --input instances_train2017.json \\
        --output instances_train2017_sym40.json --noise symmetric --rate 0.4 --seed 0

The output keeps images, categories and annotation ids; each annotation gets the noisy
``category_id`` (or geometry), ``clean_category_id`` and a ``noise`` tag ("clean",
"class_flip", "dilate", "erode", "jitter", "simplify", "<op>_skipped" when an op would leave
no valid geometry, or "class_flip+<op>").
``--noise drop`` removes annotations. For one seed the result equals the on-the-fly noise of
noisy_seg.noise.NoisePipeline (same keyed random functions, same keys).

--preset: the asymmetric preset (cityscapes, coco, voc) or the COCO-N spatial level (easy, medium,
hard: 60 / 75 / 90% of annotations get one spatial op, plus the level's uniform-mix class noise;
--rate, if given, overrides the level's per-op probability p <= 1/3, so 3p are corrupted).
--include-true: symmetric noise redraws over all K classes, the true one included (Yang et al.'s
"Sym r" convention: r (K-1)/K flipped); without it exactly r of the labels change.
--mapping FILE: asymmetric noise from a json {"src_category_id": dst_id or [dst_id, ...]}
(dataset category ids) or a K x K matrix of target probabilities (contiguous order).
--input DIR --gt-dir DIR: a Cityscapes split (leftImg8bit/<split>, gtFine/<split>), read with
detectron2's load_cityscapes_instances and written as COCO json (ids assigned after noising).
--cityscapes-from json|png: read it as the dataset you train on is registered: from the polygon
jsons (from_json=True, detectron2's cityscapes_fine_instance_seg_*; the default) or from the
instanceIds PNGs (from_json=False). The two ways give slightly different polygons, so the noisy
file equals the on-the-fly noise of the registration read the same way.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

try:
    import noisy_seg  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from noisy_seg.noise.coco_io import (
    apply_noise_to_coco,
    category_index,
    cityscapes_to_coco,
    gc_paused,
    load_json,
    save_json_atomic,
)
from noisy_seg.noise.coco_records import check_annotation_ids
from noisy_seg.noise.presets import ASYMMETRIC_PRESETS, COCO_N_PRESETS, CITYSCAPES_THING_CLASSES

NOISE_CHOICES = ("symmetric", "asymmetric", "pair_flip", "instance_dependent", "spatial", "drop")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--input", required=True, help="COCO json, or a Cityscapes leftImg8bit/<split> dir with --gt-dir"
    )
    parser.add_argument("--output", required=True, help="output COCO json (never the input)")
    parser.add_argument("--noise", required=True, choices=NOISE_CHOICES)
    parser.add_argument("--rate", type=float, help="noise rate in [0, 1] (spatial: the per-op probability p <= 1/3)")
    parser.add_argument("--include-true", action="store_true",
                        help="symmetric: draw over all classes, the true one included (the papers' 'Sym r')")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--preset", help="asymmetric: cityscapes|coco|voc; spatial: easy|medium|hard")
    parser.add_argument("--mapping", help="asymmetric: json file with a class mapping or a K x K matrix")
    parser.add_argument("--images-root", help="image folder (instance_dependent noise crops the instances)")
    parser.add_argument("--gt-dir", help="Cityscapes gtFine/<split> dir, when --input is a Cityscapes image dir")
    parser.add_argument("--cityscapes-from", choices=("json", "png"), default="json",
                        help="Cityscapes input: polygons from the json files (default) or the instanceIds PNGs")
    parser.add_argument("--report", help="also write the noise report as json to this file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output / --report file")
    return parser.parse_args(argv)


def _fail(message: str) -> SystemExit:
    return SystemExit("error: " + " ".join(str(message).split()))


def _validate(args) -> None:
    if args.rate is None and args.noise != "spatial":
        raise _fail(f"--noise {args.noise} needs --rate R with R in [0, 1]")
    if args.rate is not None and not 0.0 <= args.rate <= 1.0:
        raise _fail(f"--rate must be in [0, 1], got {args.rate}")
    if args.noise == "spatial" and args.rate is not None and args.rate > 1 / 3:
        raise _fail(f"--rate {args.rate}: for --noise spatial it is each op family's probability p, at most 1/3 "
                    "(3p of the annotations are corrupted; the levels use 0.2 / 0.25 / 0.3)")
    if args.seed < 0:
        raise _fail(f"--seed must be >= 0, got {args.seed}")
    if args.noise == "asymmetric":
        if (args.preset is None) == (args.mapping is None):
            raise _fail("--noise asymmetric needs exactly one of --preset {cityscapes,coco,voc} or --mapping FILE")
        if args.preset is not None and args.preset not in ASYMMETRIC_PRESETS:
            raise _fail(f"unknown asymmetric preset {args.preset!r}; choose one of {sorted(ASYMMETRIC_PRESETS)}")
    elif args.noise == "spatial":
        if args.preset not in COCO_N_PRESETS:
            raise _fail(f"--noise spatial needs --preset one of {sorted(COCO_N_PRESETS)}, got {args.preset!r}")
    elif args.preset is not None or args.mapping is not None:
        raise _fail(f"--preset/--mapping do not apply to --noise {args.noise}")
    if args.include_true and args.noise != "symmetric":
        raise _fail(f"--include-true applies to --noise symmetric only, not {args.noise}")
    if args.noise == "instance_dependent" and args.images_root is None and not os.path.isdir(args.input):
        raise _fail("--noise instance_dependent needs --images-root DIR to crop the instances")
    source, target = Path(args.input).resolve(), Path(args.output).resolve()
    if source == target or (target.exists() and os.path.samefile(source, target)):
        raise _fail(f"--output {args.output} is the input; write the noisy dataset to a new file")
    if args.report is not None and Path(args.report).resolve() in (source, target):
        raise _fail("--report must be a new file, not the input or the output")
    if not source.exists():
        raise _fail(f"--input {args.input} does not exist")
    for flag, path in (("--output", args.output), ("--report", args.report)):
        if path is None:
            continue
        path = Path(path)
        if path.is_dir():
            raise _fail(f"{flag} {path} is a directory; give a json file path")
        if path.parent.exists() and not path.parent.is_dir():
            raise _fail(f"{flag} {path}: {path.parent} is not a directory")
        if path.exists() and not args.overwrite:
            raise _fail(f"{flag} {path} exists; pass --overwrite to replace it, or choose a new file")
    if args.gt_dir is not None and not os.path.isdir(args.gt_dir):
        raise _fail(f"--gt-dir {args.gt_dir} is not a directory; give the Cityscapes gtFine/<split> folder")


def _load_dataset(args) -> tuple[dict, bool]:
    """COCO dict and whether it came from Cityscapes (annotation ids to assign after noising)."""
    if os.path.isdir(args.input):
        if args.gt_dir is None:
            raise _fail(f"--input {args.input} is a directory: pass --gt-dir for a Cityscapes split, or a COCO json")
        from detectron2.data.datasets.cityscapes import load_cityscapes_instances  # only this branch needs it

        try:
            dicts = load_cityscapes_instances(
                args.input, args.gt_dir, from_json=args.cityscapes_from == "json", to_polygons=True
            )
        except ImportError as err:  # cityscapesscripts and shapely are only needed here
            raise _fail(f"reading Cityscapes polygons needs the package {err.name!r}; pip install {err.name}") from None
        return cityscapes_to_coco(dicts, CITYSCAPES_THING_CLASSES, image_root=args.input), True
    try:
        dataset = load_json(args.input)
    except orjson.JSONDecodeError as err:
        raise _fail(f"{args.input} is not valid json: {err}") from None
    if isinstance(dataset, dict) and isinstance(dataset.get("annotations"), list):
        check_annotation_ids(dataset["annotations"])  # the output keeps them: detectron2 needs them unique
    return dataset, False


def _mapping_spec(path: str, dataset: dict):
    """A mapping file in dataset category ids -> contiguous mapping, or a matrix as is."""
    mapping = load_json(path)
    if isinstance(mapping, list):
        return mapping
    if not isinstance(mapping, dict):
        raise _fail(f"--mapping {path} must hold a json object {{src_id: dst_id or [dst_id, ...]}} or a K x K matrix")
    sorted_ids, _ = category_index(dataset["categories"])
    contiguous = {int(cid): index for index, cid in enumerate(sorted_ids.tolist())}

    def index_of(value):
        try:
            return contiguous[int(value)]
        except (KeyError, ValueError, TypeError):
            raise _fail(f"--mapping uses category id {value!r}, which is not in the dataset's categories") from None

    return {
        index_of(src): [index_of(d) for d in (dst if isinstance(dst, list) else [dst])] for src, dst in mapping.items()
    }


def _check_preset_classes(preset: str, dataset: dict) -> None:
    _, names = category_index(dataset["categories"])
    expected = list(ASYMMETRIC_PRESETS[preset].class_names)
    if names != expected:
        raise _fail(
            f"preset {preset!r} expects the {len(expected)} classes {expected[:3]}... in category-id order, "
            f"but the dataset has {len(names)} classes {names[:3]}...; use --mapping instead"
        )


def _noise_spec(args, dataset: dict) -> dict:
    if args.noise == "spatial":
        spec = {"type": "spatial", "preset": args.preset, "seed": args.seed}
        if args.rate is not None:
            spec["p"] = args.rate
        return spec
    spec = {"type": args.noise, "rate": args.rate, "seed": args.seed}
    if args.include_true:
        spec["include_true"] = True
    if args.noise == "asymmetric":
        if args.preset is not None:
            _check_preset_classes(args.preset, dataset)
            spec["preset"] = args.preset
        else:
            spec["mapping"] = _mapping_spec(args.mapping, dataset)
    return spec


def main(argv=None) -> int:
    args = parse_args(argv)
    _validate(args)
    try:
        with gc_paused():
            dataset, from_cityscapes = _load_dataset(args)
            spec = _noise_spec(args, dataset)
            progress = not args.no_progress and args.noise in ("spatial", "instance_dependent")
            images_root = args.images_root or (args.input if from_cityscapes else None)
            noisy, report = apply_noise_to_coco(dataset, spec, images_root=images_root, progress=progress)
            if from_cityscapes:
                for new_id, ann in enumerate(noisy["annotations"], start=1):
                    ann["id"] = new_id
            save_json_atomic(noisy, args.output)
            if args.report:
                save_json_atomic(report.to_dict(), args.report)
    except (ValueError, OSError) as err:
        raise _fail(err) from None
    print(f"wrote {args.output}")
    print(report.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
