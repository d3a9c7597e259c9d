#!/usr/bin/env python
"""Write a noisy copy of a COCO-format instance dataset (or of a Cityscapes split).

    python tools/make_noisy_dataset.py --input instances_train2017.json \\
        --output instances_train2017_sym40.json --noise symmetric --rate 0.4 --seed 0

The output keeps images, categories and annotation ids; each annotation gets the noisy
``category_id`` (or geometry), ``clean_category_id`` and a ``noise`` tag ("clean",
"class_flip", "dilate", "erode", "jitter", "simplify", "<op>_skipped" when an op would leave
no valid geometry, or "class_flip+<op>").
``--noise drop`` removes annotations. For one seed the result equals the on-the-fly noise of
noisy_seg.noise.NoisePipeline (one algorithm, same keyed random functions, same keys).

--noise: a registered noise type (symmetric, asymmetric, pair_flip, transition_matrix, instance_dependent,
spatial, drop) whose keys come from the flags below, or a short name as the mappers take it (sym40, symmix40,
asym20_cityscapes, coco_n_hard, idn40, drop30, ..._s<seed>): both resolve to the same spec
(noisy_seg/noise/registry.py). Several kinds in one copy, as a mapper's noise=[sym40, drop20] takes them (at most
one class, one spatial and one drop part): repeat --noise or give a comma list; the flags set the one given as a
type, e.g. class + spatial + drop:

    python tools/make_noisy_dataset.py --input train.json --output train_noisy.json \
        --noise sym40 --noise spatial --preset medium --class-rate 0 --noise drop20

--preset: the asymmetric preset (cityscapes, coco, voc) or the COCO-N spatial level (easy, medium,
hard: 60 / 75 / 90% of annotations get one spatial op, plus the level's uniform-mix class noise;
--rate, if given, overrides the level's per-op probability p <= 1/3, so 3p are corrupted; --class-rate its class
noise rate, 0 for none).
--include-true: symmetric noise redraws over all K classes, the true one included (Yang et al.'s
"Sym r" convention: r (K-1)/K flipped); without it each label changes with probability r.
--mapping FILE: asymmetric noise from a json {"src_category_id": dst_id or [dst_id, ...]}
(dataset category ids) or a K x K matrix of target probabilities (contiguous order).
--matrix FILE: transition_matrix noise from a json K x K row-stochastic matrix T[clean][noisy] (contiguous order).
--noise maskboundary<NN> (maskboundarygrow<NN>, maskboundaryshrink<NN>; type mask_boundary: --rate --steps
--grow-prob --flip-rate): the Markov boundary model on every instance mask.
--input DIR --gt-dir DIR: a Cityscapes split (leftImg8bit/<split>, gtFine/<split>), read with
detectron2's load_cityscapes_instances and written as COCO json (ids assigned after noising).
--cityscapes-from json|png: read it as the dataset you train on is registered: from the polygon
jsons (from_json=True, detectron2's cityscapes_fine_instance_seg_*; the default) or from the
instanceIds PNGs (from_json=False). The two ways give slightly different polygons, so the noisy
file equals the on-the-fly noise of the registration read the same way.

Semantic label maps: --dataset NAME (a registered detectron2 semantic dataset: records with file_name and
sem_seg_file_name; or --config-file CONFIG whose code registers it, its training set unless --dataset names another)
--output DIR writes one noisy label PNG per record to DIR/<its path below the label files'
common folder>, plus DIR/manifest.json (spec, dataset, counts, realized changed-pixel fraction, and for component noise
each map's changed components and how; written last, so
a folder without it is incomplete):

    python tools/make_noisy_dataset.py --dataset cityscapes_fine_sem_seg_train --output gtFine_boundary5 \
        --noise boundary5_s1

--noise takes the semantic short names (sem<NN>, semrelabel<NN>, semignore<NN>, semdilate<NN>, semerode<NN>,
boundary<NN>, boundarygrow<NN>, boundaryshrink<NN>) or a type with flags (semantic: --rate --ops --kernel
--background-label; markov_boundary: --rate --steps --grow-prob --flip-rate --background-label). --background-label
also goes with a short name: the dataset's background class, given to the noise as the mapper's background_label
gives it; without the flag, the dataset's metadata's background_label (the toy label maps: 0, road; Cityscapes has
none), so sem<NN> and sembg<NN> need no flag where the dataset names its background. For one seed each map equals
what NoisySemSegDatasetMapper injects with the same background_label (same model, same image key: the record's
image_id, else its image file's stem). Classes: the metadata's stuff_classes, else --num-classes; the ignore label:
the metadata's ignore_label, else 255 (a mapper's spec needs the same ignore_label when it is not 255). An existing
non-empty DIR is refused without --overwrite, and no input file is ever written over.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import orjson

from noisy_seg.noise import NOISE_REGISTRY, build_noise, named_noise_spec
from noisy_seg.utils.registration import add_register_argument, register_from_args
from noisy_seg.noise.coco import apply_noise_to_coco, category_index
from noisy_seg.noise.coco_records import check_annotation_ids
from noisy_seg.noise.presets import ASYMMETRIC_PRESETS, CITYSCAPES_THING_CLASSES
from noisy_seg.utils.errors import UserInputError, tool_exit_status
from noisy_seg.utils.files import gc_paused, load_json, save_json_atomic
from noisy_seg.utils.run_folder import RunFolder, folder_problem

# spec key -> flag; a flag applies to the noise types whose builder takes that key
SPEC_FLAGS = {
    "rate": "--rate",
    "seed": "--seed",
    "preset": "--preset",
    "include_true": "--include-true",
    "mapping": "--mapping",
    "matrix": "--matrix",
    "ops": "--ops",
    "kernel": "--kernel",
    "background_label": "--background-label",
    "steps": "--steps",
    "grow_prob": "--grow-prob",
    "flip_rate": "--flip-rate",
    "class_rate": "--class-rate",
}
SEMANTIC = "semantic_noise"
MANIFEST = "manifest.json"  # noisy_label_maps.MANIFEST, named here without importing detectron2 for --input


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--input", help="COCO json, or a Cityscapes leftImg8bit/<split> dir with --gt-dir")
    source.add_argument("--dataset", help="a registered detectron2 semantic dataset: write noisy label PNGs")
    parser.add_argument(
        "--config-file",
        help="with --dataset or alone: a LazyConfig .py or yacs .yaml whose code registers the semantic dataset; "
        "without --dataset, its training set",
    )
    parser.add_argument(
        "--output",
        required=True,
        help="output COCO json, or with --dataset a new folder for the label PNGs (never the input)",
    )
    parser.add_argument(
        "--noise",
        required=True,
        action="append",
        help="a noise type (with the flags below) or a short name (sym40); several kinds in one copy "
        "(at most one class, spatial and drop part), as the mappers' noise=[...] takes them: repeat "
        "it or give a comma list (--noise sym40 --noise drop20, or --noise sym40,drop20); the flags "
        "set the one given as a type",
    )
    parser.add_argument("--rate", type=float, help="noise rate in [0, 1] (spatial: the per-op probability p <= 1/3)")
    parser.add_argument(
        "--include-true",
        action="store_true",
        help="symmetric: draw over all classes, the true one included (the papers' 'Sym r')",
    )
    parser.add_argument("--seed", type=int, help="noise seed (default 0; a short name carries it as _s<seed>)")
    parser.add_argument("--preset", help="asymmetric: cityscapes|coco|voc; spatial: easy|medium|hard")
    parser.add_argument("--mapping", help="asymmetric: json file with a class mapping or a K x K matrix")
    parser.add_argument("--matrix", help="transition_matrix: json file with a K x K row-stochastic matrix")
    parser.add_argument("--ops", type=_names, help="semantic: comma-separated ops (relabel,background,ignore,...)")
    parser.add_argument("--kernel", type=int, help="semantic: dilate/erode kernel size")
    parser.add_argument("--background-label", type=int, help="semantic noise: the background class, if any")
    parser.add_argument("--steps", type=int, help="markov_boundary, mask_boundary: Markov steps T (default 100)")
    parser.add_argument(
        "--grow-prob", type=float, help="markov_boundary, mask_boundary: probability a step grows (default 0.5)"
    )
    parser.add_argument(
        "--flip-rate", type=float, help="markov_boundary, mask_boundary: toggle rate before smoothing (default 0)"
    )
    parser.add_argument(
        "--class-rate",
        type=float,
        help="spatial: its uniform-mix class noise rate (default: the "
        "preset's; 0: none, e.g. beside another class noise)",
    )
    parser.add_argument(
        "--num-classes", type=int, help="--dataset: number of classes, when its metadata has no stuff_classes"
    )
    parser.add_argument("--images-root", help="image folder (instance_dependent noise crops the instances)")
    parser.add_argument("--gt-dir", help="Cityscapes gtFine/<split> dir, when --input is a Cityscapes image dir")
    parser.add_argument(
        "--cityscapes-from",
        choices=("json", "png"),
        default="json",
        help="Cityscapes input: polygons from the json files (default) or the instanceIds PNGs",
    )
    parser.add_argument("--report", help="also write the noise report as json to this file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output / --report file")
    add_register_argument(parser)
    args = parser.parse_args(argv)
    args.noises = [name for value in args.noise for name in _names(value)]  # the noise kinds, in the order given
    args.noise = ",".join(args.noises)  # how messages name them
    return args


def _names(text: str) -> tuple:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _fail(message: str) -> SystemExit:
    return SystemExit("error: " + " ".join(str(message).split()))


def _given_keys(args, noise_type=None) -> dict:
    """The spec keys set by flags (spatial noise: --rate is its per-op probability p); 0 is a value too."""
    given = {key: getattr(args, key) for key in SPEC_FLAGS}
    given = {key: value for key, value in given.items() if value is not None and value is not False}  # unset flags
    if noise_type == "spatial" and "rate" in given:
        given["p"] = given.pop("rate")
    return given


def _spec_without_dataset(args):
    """The spec of --noise and its flags (a list of specs for several kinds: the flags set the one given as a type),
    checked before any file is read; --mapping/--matrix still name files."""
    types = [name for name in args.noises if name in NOISE_REGISTRY]
    if not args.noises:
        raise _fail("--noise names no noise; give a noise type or a short name such as sym40")
    if len(types) > 1:
        raise _fail(
            f"--noise {args.noise}: the flags set one noise type, not {len(types)} ({', '.join(types)}); give "
            "the others as short names (sym40, coco_n_medium, drop20, ...)"
        )
    given = _given_keys(args, types[0] if types else None)
    specs = [_one_spec(args, name, given, flags_taken=bool(types)) for name in args.noises]
    return specs[0] if len(specs) == 1 else specs


def _one_spec(args, name: str, given: dict, flags_taken: bool) -> dict:
    """The spec of one --noise kind: a type with the flags `given`, or a short name (`flags_taken`: the flags set
    another kind). --dataset's --background-label is the dataset's, given to a name as the mapper gives it."""
    if name not in NOISE_REGISTRY:
        try:
            spec = named_noise_spec(name)
        except ValueError as err:
            raise _fail(f"--noise {name}: {err}; or a noise type: {', '.join(sorted(NOISE_REGISTRY))}")
        if spec is None:
            raise _fail("--noise clean writes no noise; give a noise type or name")
        extra = [key for key in given if not (args.dataset and key == "background_label")]
        if extra and not flags_taken:
            flags = ", ".join(SPEC_FLAGS.get(k, "--rate") for k in extra)
            raise _fail(
                f"--noise {name} is a short name that sets everything; drop {flags}, or give the type "
                f"--noise {spec['type']} with flags"
            )
        return spec
    entry = NOISE_REGISTRY[name]
    for key in given:
        if key not in entry.allowed:
            accepted = ", ".join(
                SPEC_FLAGS[k] for k in SPEC_FLAGS if k in entry.allowed or (k, name) == ("rate", "spatial")
            )
            raise _fail(f"{SPEC_FLAGS.get(key, '--rate')} does not apply to --noise {name} (it takes {accepted})")
    missing = [SPEC_FLAGS.get(key, "--" + key.replace("_", "-")) for key in sorted(entry.required - set(given))]
    if missing:
        raise _fail(f"--noise {name} needs {' and '.join(missing)}")
    return {"type": name, **given}


def _spec_list(spec) -> list:
    return spec if isinstance(spec, list) else [spec]


def _validate(args):
    """Checks that need no dataset; returns the noise spec (a list of them for several kinds)."""
    spec = _spec_without_dataset(args)
    if any(NOISE_REGISTRY[item["type"]].part == SEMANTIC for item in _spec_list(spec)):
        raise _fail(
            f"--noise {args.noise} is noise for semantic label maps: give --dataset NAME (a registered "
            "semantic dataset) and an output folder instead of --input"
        )
    if args.num_classes is not None:
        raise _fail("--num-classes is for --dataset; a COCO json's classes are its categories")
    needs_images = any(item["type"] == "instance_dependent" for item in _spec_list(spec))
    if needs_images and args.images_root is None and not os.path.isdir(args.input):
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
    return spec


def _load_dataset(args) -> tuple[dict, bool]:
    """COCO dict and whether it came from Cityscapes (annotation ids to assign after noising)."""
    if os.path.isdir(args.input):
        if args.gt_dir is None:
            raise _fail(f"--input {args.input} is a directory: pass --gt-dir for a Cityscapes split, or a COCO json")
        from detectron2.data.datasets.cityscapes import load_cityscapes_instances  # only this branch needs it

        from noisy_seg.data.datasets.cityscapes_coco import cityscapes_to_coco

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


def _noise_spec(spec: dict, dataset: dict) -> dict:
    """The spec with its files read: --mapping in dataset category ids, --matrix; presets checked against the
    dataset's class names."""
    spec = dict(spec)
    if isinstance(spec.get("mapping"), str):
        spec["mapping"] = _mapping_spec(spec["mapping"], dataset)
    if isinstance(spec.get("matrix"), str):
        spec["matrix"] = load_json(spec["matrix"])
    if spec["type"] == "asymmetric" and spec.get("preset") in ASYMMETRIC_PRESETS:
        _check_preset_classes(spec["preset"], dataset)
    return spec


def _pipeline(args, spec: dict, dataset):
    """The noise built for the dataset's classes; its value errors name the --noise they come from."""
    if not (isinstance(dataset, dict) and isinstance(dataset.get("categories"), list)):
        return spec  # apply_noise_to_coco says what is wrong with the dataset
    _, class_names = category_index(dataset["categories"])
    spec = [_noise_spec(item, dataset) for item in spec] if isinstance(spec, list) else _noise_spec(spec, dataset)
    try:
        return build_noise(spec, len(class_names))
    except ValueError as err:
        spatial_with_class = [
            item for item in _spec_list(spec) if item["type"] == "spatial" and item.get("class_rate") != 0
        ]
        hint = (
            (
                "; a spatial level (coco_n_*) brings its own class noise: --noise spatial --preset LEVEL "
                "--class-rate 0 is its spatial part alone"
            )
            if isinstance(spec, list) and spatial_with_class
            else ""
        )
        raise _fail(f"--noise {args.noise}: {err}{hint}") from None


def _semantic_spec(args) -> dict:
    """--dataset mode: the semantic noise spec of --noise and its flags, and the flags it refuses."""
    spec = _spec_without_dataset(args)
    if isinstance(spec, list):
        raise _fail(
            f"--noise {args.noise}: --dataset writes one semantic noise per copy (a mapper takes one); give one --noise"
        )
    if NOISE_REGISTRY[spec["type"]].part != SEMANTIC:
        semantic = sorted(name for name, entry in NOISE_REGISTRY.items() if entry.part == SEMANTIC)
        raise _fail(
            f"--noise {args.noise} is noise for instance annotations; --dataset writes semantic label maps: "
            f"use a semantic name (sem40, semdilate30, boundary5, ...) or type ({', '.join(semantic)})"
        )
    for flag, value in (("--report", args.report), ("--gt-dir", args.gt_dir), ("--images-root", args.images_root)):
        if value is not None:
            raise _fail(f"{flag} is for --input; --dataset writes its summary to {MANIFEST} in the output folder")
    return spec


def _semantic_dataset(name: str, num_classes_flag):
    """(records, number of classes, ignore label, background label or None) of a registered semantic dataset (the
    background from its metadata's `background_label`, where it has one)."""
    import noisy_seg.data  # noqa: F401  (registers the toy datasets; detectron2's builtin ones come with it)
    from detectron2.data import DatasetCatalog, MetadataCatalog

    if name not in DatasetCatalog.list():
        semantic = [
            n
            for n in sorted(DatasetCatalog.list())
            if "sem_seg" in str(MetadataCatalog.get(n).get("evaluator_type", ""))
        ]
        examples = ", ".join(semantic[:6]) + (", ..." if len(semantic) > 6 else "")
        raise _fail(f"--dataset {name} is not a registered dataset; semantic ones include {examples}")
    try:
        records = DatasetCatalog.get(name)
    except (AssertionError, OSError, ValueError) as err:  # detectron2's loaders assert on missing folders
        raise _fail(f"--dataset {name} could not be loaded: {err}") from None
    if not records:
        raise _fail(f"--dataset {name} has no records")
    if any("sem_seg_file_name" not in record or "file_name" not in record for record in records):
        raise _fail(f"--dataset {name} is not a semantic dataset: its records need file_name and sem_seg_file_name")
    metadata = MetadataCatalog.get(name)
    stuff_classes = metadata.get("stuff_classes", None)
    if stuff_classes is None and num_classes_flag is None:
        raise _fail(f"--dataset {name} has no stuff_classes in its metadata; give --num-classes")
    if stuff_classes is not None and num_classes_flag not in (None, len(stuff_classes)):
        raise _fail(
            f"--num-classes {num_classes_flag} disagrees with the {len(stuff_classes)} stuff_classes of "
            f"--dataset {name}; leave it out"
        )
    num_classes = len(stuff_classes) if stuff_classes is not None else num_classes_flag
    background = metadata.get("background_label", None)
    return records, num_classes, int(metadata.get("ignore_label", 255)), background


def _semantic_targets(args, records) -> tuple[Path, list[Path]]:
    """The label files' common folder and each record's output PNG; refuses to write over any input file."""
    labels = [Path(record["sem_seg_file_name"]).resolve() for record in records]
    root = Path(os.path.commonpath([str(label.parent) for label in labels]))
    output = Path(args.output).resolve()
    if output == root:
        raise _fail(f"--output {args.output} is the input label folder; write the noisy labels to a new folder")
    problem = folder_problem(
        args.output, "--output", overwrite=args.overwrite, how_to_resume=None, how_to_overwrite="--overwrite"
    )
    if problem:
        raise _fail(problem)
    targets = [output / label.relative_to(root).with_suffix(".png") for label in labels]
    if len(set(targets)) != len(targets):
        raise _fail(f"--dataset {args.dataset}: two records share one label file; each needs its own")
    inputs = set(labels) | {Path(record["file_name"]).resolve() for record in records}
    clash = next((target for target in targets if target.resolve() in inputs), None)
    if clash is not None:
        raise _fail(f"--output {args.output} would write over the input file {clash}; choose a new folder")
    return root, targets


def _written(write, *args, **kwargs):
    """A write of noisy_seg.utils.files, its OSError (e.g. a full disk) one error line: it left nothing half-written
    under a final name, and a rerun rewrites every map."""
    try:
        return write(*args, **kwargs)
    except UserInputError as err:
        raise _fail(err) from None
    except OSError as err:
        raise _fail(f"{err}; fix that and rerun with --overwrite") from None


def make_noisy_semantic(args) -> int:
    """--dataset mode: one noisy label PNG per record, as NoisySemSegDatasetMapper would noise it, and a manifest."""
    from noisy_seg.data.datasets.noisy_label_maps import write_noisy_label_maps
    from noisy_seg.data.mappers import NoisySemSegDatasetMapper

    spec = _semantic_spec(args)
    try:
        register_from_args(args)  # one's own semantic datasets (--register MODULE:FUNCTION)
        if args.config_file is not None:  # its code registers the dataset; without --dataset, its training set
            from noisy_seg.engine import resolve_tool_dataset

            args.dataset = resolve_tool_dataset(args.dataset, config_file=args.config_file)
    except UserInputError as err:
        raise _fail(err) from None
    records, num_classes, ignore_label, dataset_background = _semantic_dataset(args.dataset, args.num_classes)
    spec = {**spec, "ignore_label": ignore_label}
    background = args.background_label if args.background_label is not None else dataset_background
    try:  # built as the mapper builds it: its background_label goes to a name too (what a name cannot carry)
        noise = NoisySemSegDatasetMapper.build_noise(spec, num_classes, background)
    except ValueError as err:
        if "needs background_label" in str(err):
            raise _fail(
                f"--noise {args.noise} relabels components to the background, and --dataset {args.dataset} names "
                "none (no background_label in its metadata): give --background-label"
            ) from None
        raise _fail(f"--noise {args.noise}: {err}") from None
    if noise.background_label is not None:
        spec["background_label"] = noise.background_label  # the manifest's spec is the one applied
    root, targets = _semantic_targets(args, records)
    run = _written(
        RunFolder.open,
        args.output,
        {"dataset": args.dataset, "noise": spec, "noise_name": args.noise},
        overwrite=args.overwrite,
        how_to_resume=None,
        how_to_overwrite="--overwrite",
    )
    try:
        manifest = write_noisy_label_maps(
            records,
            targets,
            noise,
            args.output,
            dataset=args.dataset,
            spec=spec,
            noise_name=args.noise,
            num_classes=num_classes,
            ignore_label=ignore_label,
            label_root=root,
            progress=not args.no_progress,
        )
    except ValueError as err:  # a label map that cannot be read or noised
        raise _fail(err) from None
    except OSError as err:
        raise _fail(f"{err}; fix that and rerun with --overwrite") from None
    _written(run.finish)
    line = (
        f"wrote {manifest['num_maps']} noisy label maps to {args.output} ({MANIFEST}); realized changed-pixel "
        f"fraction: {manifest['changed_fraction']:.4f}"
    )
    if "changed_components" in manifest:  # component noise: the realized rate in components, per op
        ops = ", ".join(f"{op} {n}" for op, n in manifest["changed_components_by_op"].items())
        share = manifest["changed_components"] / max(manifest["components"], 1)
        line += f"; components changed: {manifest['changed_components']} of {manifest['components']} ({share:.3f})"
        line += f": {ops}" if ops else ""
    print(line)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.input is None and args.dataset is None and args.config_file is None:
        raise _fail("give --input (a COCO json or a Cityscapes split) or --dataset / --config-file (semantic maps)")
    if args.input is not None and args.config_file is not None:
        raise _fail("--config-file names a semantic dataset to noise; a --input file needs none")
    if args.dataset is not None or args.config_file is not None:
        return make_noisy_semantic(args)
    spec = _validate(args)
    try:
        with gc_paused():
            dataset, from_cityscapes = _load_dataset(args)
            images_root = args.images_root or (args.input if from_cityscapes else None)
            noisy, report = apply_noise_to_coco(
                dataset, _pipeline(args, spec, dataset), images_root=images_root, progress=not args.no_progress
            )
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
    sys.exit(tool_exit_status(main))
