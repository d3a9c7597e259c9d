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

from noisy_seg.label_errors.export import (
    ISSUES_JSON,
    PROPOSALS_JSON,
    cvat_coco,
    label_studio_config,
    label_studio_tasks,
    load_issue_run,
)
from noisy_seg.utils.errors import UserInputError, tool_exit_status
from noisy_seg.utils.files import save_json_atomic, write_atomic

FORMATS = ("label-studio", "cvat")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="the output folder of find-label-errors or find-semantic-...")
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--output", required=True, help="the json to write")
    parser.add_argument("--image-url-prefix", default="/data/local-files/?d=", help="Label Studio: image URL prefix")
    parser.add_argument("--top", type=int, help="only the first N issues (default all)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    return parser.parse_args(argv)


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
        coco, rows = load_issue_run(run, args.top)
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
