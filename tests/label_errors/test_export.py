"""Exports of the ranked issues to annotation tools (noisy_seg.label_errors.export, noisy-seg export-issues): Label
Studio tasks with the given label as annotation and the suggestion as prediction, CVAT's COCO 1.0 import with the
issue in each annotation's attributes; instance issues and semantic proposals; bad input in one line."""

import json

import numpy as np
import pytest
from PIL import Image

from noisy_seg.cli import export_issues as tool
from noisy_seg.label_errors.export import cvat_coco, label_studio_config, label_studio_tasks, semantic_issue_rows

COCO = {
    "images": [
        {"id": 1, "file_name": "a.png", "width": 200, "height": 100},
        {"id": 2, "file_name": "b.png", "width": 50, "height": 50},
    ],
    "annotations": [
        {
            "id": 7,
            "image_id": 1,
            "category_id": 1,
            "bbox": [20, 10, 40, 20],
            "segmentation": [[20, 10, 60, 10, 60, 30]],
        },
        {
            "id": 8,
            "image_id": 1,
            "category_id": 2,
            "bbox": [100, 50, 10, 10],
            "segmentation": {"counts": "x", "size": [100, 200]},
        },
        {"id": 9, "image_id": 2, "category_id": 2, "bbox": [0, 0, 5, 5]},
    ],
    "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
}
ISSUES = [
    {
        "rank": 1,
        "reasons": ["class", "mask"],
        "annotation_id": 7,
        "image_id": 1,
        "given_category_id": 1,
        "suggested_category_id": 2,
        "score": 0.25,
    },
    {
        "rank": 2,
        "reasons": ["missing"],
        "annotation_id": None,
        "image_id": 1,
        "given_category_id": None,
        "suggested_category_id": 1,
        "score": 0.5,
        "bbox": [150.0, 20.0, 20.0, 10.0],
    },
    {
        "rank": 3,
        "reasons": ["mask"],
        "annotation_id": 8,
        "image_id": 1,
        "given_category_id": 2,
        "suggested_category_id": None,
        "score": 0.75,
    },
]


def test_label_studio_tasks_carry_the_given_label_and_the_suggestion():
    tasks = label_studio_tasks(COCO, ISSUES, image_url=lambda image: "/data/local-files/?d=" + image["file_name"])
    assert [t["data"]["issue_rank"] for t in tasks] == [1, 2, 3]
    first = tasks[0]
    assert first["data"]["image"] == "/data/local-files/?d=a.png" and first["data"]["reasons"] == "class,mask"
    given = first["annotations"][0]["result"]
    box = given[0]["value"]
    assert (box["x"], box["y"], box["width"], box["height"]) == (10.0, 10.0, 20.0, 20.0)  # percent of 200 x 100
    assert box["rectanglelabels"] == ["cat"] and given[1]["type"] == "polygonlabels"
    assert given[1]["value"]["points"] == [[10.0, 10.0], [30.0, 10.0], [30.0, 30.0]]
    prediction = first["predictions"][0]
    assert prediction["score"] == 0.75 and prediction["result"][0]["value"]["rectanglelabels"] == ["dog"]
    assert tasks[1]["annotations"] == [] and tasks[1]["predictions"][0]["result"][0]["value"]["x"] == 75.0
    assert tasks[2]["predictions"] == [] and len(tasks[2]["annotations"][0]["result"]) == 1  # an RLE mask: box only
    config = label_studio_config(["cat", "a<b"])
    assert '<Label value="a&lt;b"/>' in config and 'name="label"' in config and 'name="polygon"' in config


def test_cvat_coco_keeps_the_images_with_issues_and_marks_each_annotation():
    out = cvat_coco(COCO, ISSUES)
    assert [image["id"] for image in out["images"]] == [1] and out["categories"] == COCO["categories"]
    by_id = {a["id"]: a for a in out["annotations"]}
    assert sorted(by_id) == [7, 8, 10]  # image 2 has no issue; the missing object is added after the largest id
    assert by_id[7]["attributes"] == {"issue": "class,mask", "issue_rank": 1, "suggested": "dog"}
    assert by_id[8]["attributes"] == {"issue": "mask", "issue_rank": 3, "suggested": ""}
    assert by_id[10]["category_id"] == 1 and by_id[10]["attributes"]["issue"] == "missing"
    assert by_id[7]["category_id"] == 1 and "attributes" not in COCO["annotations"][0]  # the input is untouched


def write_run(tmp_path):
    dataset = tmp_path / "dataset.json"
    dataset.write_text(json.dumps(COCO))
    run = tmp_path / "run"
    run.mkdir()
    (run / "issues.json").write_text(json.dumps({"settings": {"json_file": str(dataset)}, "issues": ISSUES}))
    return run


def test_the_command_exports_an_instance_run(tmp_path, capsys):
    run = write_run(tmp_path)
    out = tmp_path / "ls.json"
    assert tool.main(["--run", str(run), "--format", "label-studio", "--output", str(out), "--top", "2"]) == 0
    assert len(json.loads(out.read_text())) == 2 and "<RectangleLabels" in out.with_suffix(".xml").read_text()
    assert tool.main(["--run", str(run), "--format", "cvat", "--output", str(tmp_path / "cvat.json")]) == 0
    assert len(json.loads((tmp_path / "cvat.json").read_text())["annotations"]) == 3
    assert "Label Studio tasks" in capsys.readouterr().out


def test_the_command_exports_semantic_proposals(tmp_path):
    image = tmp_path / "scene.png"
    Image.fromarray(np.zeros((40, 80, 3), np.uint8)).save(image)
    run = tmp_path / "semantic"
    run.mkdir()
    proposal = {
        "rank": 1,
        "image_id": "scene",
        "file_name": str(image),
        "class_id": 3,
        "class": "car",
        "bbox": [10, 5, 30, 25],
        "bbox_mode": "XYXY_ABS",
        "area": 120,
        "score": 0.9,
    }
    (run / "proposals.json").write_text(json.dumps({"settings": {}, "proposals": [proposal]}))
    out = tmp_path / "cvat.json"
    assert tool.main(["--run", str(run), "--format", "cvat", "--output", str(out)]) == 0
    coco = json.loads(out.read_text())
    assert coco["images"] == [{"id": 1, "file_name": str(image), "width": 80, "height": 40}]
    assert coco["annotations"][0]["bbox"] == [10, 5, 20, 20] and coco["annotations"][0]["category_id"] == 3
    assert coco["categories"] == [{"id": 3, "name": "car"}]
    rows = semantic_issue_rows([proposal])
    assert rows[0]["reasons"] == ["semantic"] and rows[0]["score"] == pytest.approx(0.1)


def error_of(argv) -> str:
    with pytest.raises(SystemExit) as exit_info:
        tool.main(argv)
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "\n" not in message, message
    return message


def test_bad_inputs_are_one_line_and_nothing_is_overwritten(tmp_path):
    run = write_run(tmp_path)
    taken = tmp_path / "taken.json"
    taken.write_text("mine")
    assert "exists; pick another --output or pass --overwrite" in error_of(
        ["--run", str(run), "--format", "cvat", "--output", str(taken)]
    )
    assert taken.read_text() == "mine"
    assert "holds neither issues.json nor proposals.json" in error_of(
        ["--run", str(tmp_path), "--format", "cvat", "--output", str(tmp_path / "x.json")]
    )
    assert "--top must be at least 1" in error_of(
        ["--run", str(run), "--format", "cvat", "--output", str(tmp_path / "y.json"), "--top", "0"]
    )
    assert "is the run's own issues.json" in error_of(
        ["--run", str(run), "--format", "cvat", "--output", str(run / "issues.json"), "--overwrite"]
    )
    (run / "issues.json").write_text(json.dumps({"settings": {"json_file": str(tmp_path / "gone.json")}, "issues": []}))
    assert "which is not there" in error_of(
        ["--run", str(run), "--format", "cvat", "--output", str(tmp_path / "z.json")]
    )
