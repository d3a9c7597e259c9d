"""The ranked issues in the formats annotation tools import: Label Studio tasks and CVAT's COCO 1.0 import.

    tasks = label_studio_tasks(coco, issues, image_url=lambda image: "/data/local-files/?d=" + image["file_name"])
    config = label_studio_config(class_names)
    reviewed = cvat_coco(coco, issues)

Inputs are plain data: the dataset's COCO json (a dict) and issue rows as find-label-errors writes them in
issues.json (one row per annotation with an issue, with every reason; one per missing object) or as
find-semantic-label-errors writes its proposals (converted by `semantic_issue_rows`).

- Label Studio (https://labelstud.io/guide/tasks.html): one task per issue, in rank order, the image with the data a
  reviewer needs (rank, reasons, given and suggested class, score); the given label as the task's annotation (box,
  and polygons where the json has them) and the suggestion as its prediction (box with the suggested class, scored
  1 - the combined score), so the reviewer accepts or fixes it in place. `label_studio_config` is the labeling
  interface those tasks fit (RectangleLabels and PolygonLabels over the classes, from_name "label" / "polygon").
- CVAT (COCO 1.0 import): the dataset's json restricted to the images with an issue, every annotation of them kept,
  each with COCO-style `attributes` CVAT imports ({"issue": "class,mask" or "", "issue_rank", "suggested"}); each
  missing object is added as a box with the suggested class and {"issue": "missing"}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

from ..utils.errors import UserInputError
from ..utils.files import load_json

__all__ = [
    "ISSUES_JSON",
    "PROPOSALS_JSON",
    "cvat_coco",
    "label_studio_config",
    "label_studio_tasks",
    "load_issue_run",
    "semantic_issue_rows",
]

ISSUES_JSON, PROPOSALS_JSON = "issues.json", "proposals.json"


def label_studio_tasks(
    coco: dict, issues: Iterable[dict], *, image_url: Callable[[dict], str], model_version: str = "noisy_seg"
) -> list[dict]:
    """Label Studio tasks, one per issue row (module doc); `image_url(image entry) -> the URL Label Studio loads`."""
    images = {image["id"]: image for image in coco["images"]}
    annotations = {ann["id"]: ann for ann in coco["annotations"]}
    names = {category["id"]: category["name"] for category in coco["categories"]}
    tasks = []
    for issue in issues:
        image = images.get(issue["image_id"])
        if image is None:
            raise UserInputError(f"issue {issue['rank']} names image {issue['image_id']}, which the dataset lacks")
        given = annotations.get(issue["annotation_id"]) if issue["annotation_id"] is not None else None
        box = issue["bbox"] if given is None else given["bbox"]
        suggested = issue["suggested_category_id"]
        data = {
            "image": image_url(image),
            "issue_rank": issue["rank"],
            "reasons": ",".join(issue["reasons"]),
            "given": names.get(issue["given_category_id"], ""),
            "suggested": names.get(suggested, ""),
            "score": issue["score"],
            "annotation_id": issue["annotation_id"],
            "image_id": issue["image_id"],
        }
        task = {"data": data, "annotations": [], "predictions": []}
        if given is not None:
            result = [_rectangle(box, names[given["category_id"]], image, f"given{given['id']}")]
            result += _polygons(given, names[given["category_id"]], image)
            task["annotations"].append({"result": result})
        if suggested is not None:
            task["predictions"].append(
                {
                    "model_version": model_version,
                    "score": round(1.0 - float(issue["score"]), 6),
                    "result": [_rectangle(box, names.get(suggested, str(suggested)), image, f"issue{issue['rank']}")],
                }
            )
        tasks.append(task)
    return tasks


def label_studio_config(class_names: Iterable[str]) -> str:
    """The labeling interface (XML) the tasks fit: boxes and polygons over the classes."""
    labels = "".join(f'<Label value="{_xml(name)}"/>' for name in class_names)
    return (
        "<View>\n"
        '  <Image name="image" value="$image"/>\n'
        '  <Header value="issue $issue_rank ($reasons): given $given, suggested $suggested"/>\n'
        f'  <RectangleLabels name="label" toName="image">{labels}</RectangleLabels>\n'
        f'  <PolygonLabels name="polygon" toName="image">{labels}</PolygonLabels>\n'
        "</View>\n"
    )


def cvat_coco(coco: dict, issues: Iterable[dict]) -> dict:
    """The COCO json CVAT imports for the review (module doc)."""
    names = {category["id"]: category["name"] for category in coco["categories"]}
    by_annotation, missing, images = {}, [], set()
    for issue in issues:
        images.add(issue["image_id"])
        if issue["annotation_id"] is None:
            missing.append(issue)
        else:
            by_annotation[issue["annotation_id"]] = issue
    annotations, next_id = [], max((ann["id"] for ann in coco["annotations"]), default=0)
    for ann in coco["annotations"]:
        if ann["image_id"] not in images:
            continue
        issue = by_annotation.get(ann["id"])
        attributes = {"issue": "", "issue_rank": 0, "suggested": ""}
        if issue is not None:
            attributes = {
                "issue": ",".join(issue["reasons"]),
                "issue_rank": issue["rank"],
                "suggested": names.get(issue["suggested_category_id"], ""),
            }
        annotations.append({**ann, "attributes": {**ann.get("attributes", {}), **attributes}})
    for issue in missing:
        next_id += 1
        x, y, w, h = issue["bbox"]
        annotations.append(
            {
                "id": next_id,
                "image_id": issue["image_id"],
                "category_id": issue["suggested_category_id"],
                "bbox": [x, y, w, h],
                "area": w * h,
                "iscrowd": 0,
                "segmentation": [],
                "attributes": {"issue": "missing", "issue_rank": issue["rank"], "suggested": ""},
            }
        )
    return {
        **{key: value for key, value in coco.items() if key not in ("images", "annotations")},
        "images": [image for image in coco["images"] if image["id"] in images],
        "annotations": annotations,
    }


def semantic_issue_rows(proposals: Iterable[dict], image_ids: Optional[Mapping[str, int]] = None) -> list[dict]:
    """find-semantic-label-errors' proposals as issue rows (a region whose label looks wrong or missing: reason
    "semantic", no annotation, the proposed class suggested, box XYWH from its XYXY), for the exports above with a
    COCO dict of the label maps' images (`image_ids`: file name -> image id; default the proposals' image ids)."""
    rows = []
    for proposal in proposals:
        x0, y0, x1, y1 = proposal["bbox"]
        image_id = proposal["image_id"] if image_ids is None else image_ids[proposal["file_name"]]
        rows.append(
            {
                "rank": proposal["rank"],
                "reasons": ["semantic"],
                "annotation_id": None,
                "image_id": image_id,
                "given_category_id": None,
                "suggested_category_id": proposal["class_id"],
                "score": 1.0 - float(proposal["score"]),
                "bbox": [x0, y0, x1 - x0, y1 - y0],
            }
        )
    return rows


def load_issue_run(run, top: Optional[int] = None) -> tuple[dict, list]:
    """(the COCO dict the rows refer to, the first `top` issue rows) of a find-label-errors run folder (its
    issues.json and the dataset json its settings name) or a find-semantic-label-errors one (proposals.json and its
    images)."""
    run = Path(run)
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


def _rectangle(box, label: str, image: dict, region: str) -> dict:
    x, y, w, h = (float(v) for v in box)
    width, height = float(image["width"]), float(image["height"])
    return {
        "id": region,
        "from_name": "label",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": image["width"],
        "original_height": image["height"],
        "image_rotation": 0,
        "value": {
            "x": 100.0 * x / width,
            "y": 100.0 * y / height,
            "width": 100.0 * w / width,
            "height": 100.0 * h / height,
            "rotation": 0,
            "rectanglelabels": [label],
        },
    }


def _polygons(ann: dict, label: str, image: dict) -> list[dict]:
    """The annotation's polygons (none for RLE masks) in Label Studio's percent coordinates."""
    segmentation = ann.get("segmentation")
    if not isinstance(segmentation, list):
        return []
    width, height = float(image["width"]), float(image["height"])
    return [
        {
            "id": f"given{ann['id']}p{number}",
            "from_name": "polygon",
            "to_name": "image",
            "type": "polygonlabels",
            "original_width": image["width"],
            "original_height": image["height"],
            "image_rotation": 0,
            "value": {
                "points": [[100.0 * px / width, 100.0 * py / height] for px, py in zip(polygon[0::2], polygon[1::2])],
                "polygonlabels": [label],
            },
        }
        for number, polygon in enumerate(segmentation)
        if len(polygon) >= 6
    ]


def _xml(text: str) -> str:
    return str(text).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
