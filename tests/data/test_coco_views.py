"""register_coco_view: a fold of K-fold as a filtered view of the dataset's json (no copy): the listed images only,
the source's metadata without a json_file (so COCOEvaluator evaluates the view's images), ids that the json lacks
refused in one line."""

import json

import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import COCOEvaluator

from noisy_seg.data import register_coco_view
from noisy_seg.data.datasets.toy_shapes import coco_paths
from noisy_seg.utils.errors import UserInputError


def test_a_view_holds_the_listed_images_and_evaluates_only_them(tiny_toy, tmp_path):
    json_file, image_root = coco_paths(tiny_toy, "train")
    ids = [image["id"] for image in json.loads(json_file.read_text())["images"]][1:4]
    (tmp_path / "ids.json").write_text(json.dumps(ids))
    name = register_coco_view(str(json_file), "toy_shapes_train", str(tmp_path / "ids.json"), str(image_root))
    assert register_coco_view(str(json_file), "toy_shapes_train", str(tmp_path / "ids.json"), str(image_root)) == name
    records = DatasetCatalog.get(name)
    assert [r["image_id"] for r in records] == ids and all(r["annotations"] for r in records)
    metadata = MetadataCatalog.get(name)
    assert (
        metadata.get("json_file", None) is None
        and metadata.thing_classes == MetadataCatalog.get("toy_shapes_train").thing_classes
    )
    COCOEvaluator(name, output_dir=str(tmp_path / "inference"))  # converts the view's records for its COCO api
    (converted,) = (tmp_path / "inference").glob("*_coco_format.json")
    assert sorted(image["id"] for image in json.loads(converted.read_text())["images"]) == sorted(ids)

    (tmp_path / "bad.json").write_text(json.dumps([ids[0], 10**9]))
    bad = register_coco_view(str(json_file), "toy_shapes_train", str(tmp_path / "bad.json"), str(image_root))
    with pytest.raises(UserInputError, match="lists 2 image ids but .* has 1 of them"):
        DatasetCatalog.get(bad)
    with pytest.raises(ValueError, match="is not a registered dataset"):
        register_coco_view(str(json_file), "no_such_set", str(tmp_path / "ids.json"))
