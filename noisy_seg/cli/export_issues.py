#!/usr/bin/env python
"""Export the ranked issues of a label-error run to an annotation tool: Label Studio tasks (the given label as the
task's annotation, the suggestion as its prediction) or CVAT's COCO 1.0 import (the images with an issue, each
annotation's issue in its attributes, missing objects added as boxes). Instance runs (find-label-errors:
OUTPUT/issues.json, the dataset's json named in its settings) and semantic ones (find-semantic-label-errors:
OUTPUT/proposals.json, each proposed region as a box with its class) alike (noisy_seg.label_errors.export).

    python tools/export_issues.py --run output/label_errors/toy_folds --format label-studio \\
        --output output/label_errors/toy_folds/label_studio.json --image-url-prefix "/data/local-files/?d=train/"
    python tools/export_issues.py --run output/label_errors/toy_folds --format cvat --output review_coco.json

Label Studio: --output holds the tasks (import them in a project whose labeling config is the .xml written beside
it: boxes and polygons over the dataset's classes); each task's image is --image-url-prefix + the image's file name
(default "/data/local-files/?d=", Label Studio's local storage; serve the images from the dataset's image folder).
--top N exports the first N rows (default all). The output must not exist (--overwrite replaces it); written
atomically.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from noisy_seg.label_errors.export import cvat_coco, label_studio_config, label_studio_tasks, semantic_issue_rows
from noisy_seg.utils.errors import UserInputError, tool_exit_status
from noisy_seg.utils.files import load_json, save_json_atomic, write_atomic

FORMATS = ("label-studio", "cvat")
ISSUES_JSON, PROPOSALS_JSON = "issues.json", "proposals.json"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="the output folder of find-label-errors or find-semantic-...")
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--output", required=True, help="the json to write")
    parser.add_argument("--image-url-prefix", default="/data/local-files/?d=", help="Label Studio: image URL prefix")
    parser.add_argument("--top", type=int, help="only the first N issues (default all)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    return parser.parse_args(argv)


def load_run(run: Path, top) -> tuple[dict, list]:
    """(the COCO dict the rows refer to, the issue rows) of an instance or a semantic run."""
    if (run / ISSUES_JSON).is_file():
        report = load_json(run / ISSUES_JSON)
        json_file = report.get("settings", {}).get("json_file")
        if not json_file or not Path(json_file).is_file():
            raise UserInputError(f"{run / ISSUES_JSON} names the dataset json {json_file!r}, which is not there")
        return load_json(json_file), report["issues"][:top]
    if (run / PROPOSALS_JSON).is_file():
        proposals = load_json(run / PROPOSALS_JSON)["proposals"][:top]
        return semantic_coco(proposals), semantic_issue_rows(proposals, image_ids=_image_ids(proposals))
    raise UserInputError(f"--run {run} holds neither {ISSUES_JSON} nor {PROPOSALS_JSON}: give a label-error run folder")


def _image_ids(proposals: list) -> dict:
    return {name: number for number, name in enumerate(dict.fromkeys(p["file_name"] for p in proposals), start=1)}


def semantic_coco(proposals: list) -> dict:
    """A COCO dict of the proposals' images (sizes read from the files) and classes."""
    from PIL import Image

    images = []
    for name, number in _image_ids(proposals).items():
        try:
            with Image.open(name) as image:
                width, height = image.size
        except OSError as err:
            raise UserInputError(f"the proposals' image {name} cannot be read: {err}") from None
        images.append({"id": number, "file_name": name, "width": width, "height": height})
    classes = {p["class_id"]: p["class"] for p in proposals}
    return {
        "images": images,
        "annotations": [],
        "categories": [{"id": k, "name": v} for k, v in sorted(classes.items())],
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        run, output = Path(args.run), Path(args.output)
        if args.top is not None and args.top < 1:
            raise UserInputError(f"--top must be at least 1, got {args.top}")
        written = [output] + ([output.with_suffix(".xml")] if args.format == "label-studio" else [])
        taken = [path for path in written if path.exists()]
        if taken and not args.overwrite:
            raise UserInputError(f"{taken[0]} exists; pick another --output or pass --overwrite")
        if output.resolve().parent == run.resolve() and output.name in (ISSUES_JSON, PROPOSALS_JSON):
            raise UserInputError(f"--output {output} is the run's own {output.name}; pick another file")
        coco, rows = load_run(run, args.top)
        if args.format == "cvat":
            save_json_atomic(cvat_coco(coco, rows), output)
            print(f"wrote {len(rows)} issues of {run} as CVAT's COCO 1.0 import: {output}")
            return 0
        tasks = label_studio_tasks(coco, rows, image_url=lambda image: args.image_url_prefix + image["file_name"])
        config = output.with_suffix(".xml")
        save_json_atomic(tasks, output)
        write_atomic(config, label_studio_config(category["name"] for category in coco["categories"]))
    except UserInputError as err:
        raise SystemExit("error: " + " ".join(str(err).split())) from None
    print(f"wrote {len(tasks)} Label Studio tasks of {run}: {output} (labeling config: {config})")
    return 0


if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
