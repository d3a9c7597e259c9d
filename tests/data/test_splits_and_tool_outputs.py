"""Registering what the pseudo-label recipes train on: the strong / weak split of a semantic set
(noisy_seg/data/datasets/splits.py) and COCO jsons written by tools (coco_files.py), named from LazyConfigs."""

import json

import numpy as np
import pytest
from PIL import Image

from detectron2.config import LazyCall as L
from detectron2.config import LazyConfig
from detectron2.data import DatasetCatalog, MetadataCatalog, get_detection_dataset_dicts

from noisy_seg.data import check_datasets_available, register_coco_file, register_strong_weak_split
from noisy_seg.data.datasets.splits import split_names, strong_weak_split
from noisy_seg.engine.train_loop import dataset_names
from noisy_seg.utils.errors import UserInputError

SEMANTIC = "toy_tiny_cityscapes_sem_seg_train"


def records(n):
    return [{"file_name": f"img{i}.png", "image_id": f"img{i}"} for i in range(n)]


def test_split_is_seeded_disjoint_complete_and_order_free():
    strong, weak = strong_weak_split(records(50), 10, seed=0)
    assert len(strong) == 5 and len(weak) == 45
    ids = lambda rs: {r["image_id"] for r in rs}  # noqa: E731
    assert not ids(strong) & ids(weak) and ids(strong) | ids(weak) == ids(records(50))
    assert ids(strong_weak_split(records(50)[::-1], 10, seed=0)[0]) == ids(strong)  # the order does not matter
    assert ids(strong_weak_split(records(50), 10, seed=1)[0]) != ids(strong)  # the seed does
    assert len(strong_weak_split(records(3), 10)[0]) == 1  # never an empty strong part


@pytest.mark.parametrize("percent", [0, 100, -5])
def test_split_refuses_an_empty_part(percent):
    with pytest.raises(ValueError, match=r"strong_percent must lie in \(0, 100\)"):
        strong_weak_split(records(10), percent)


def test_split_of_an_empty_set_is_an_error():
    with pytest.raises(ValueError, match="empty data set"):
        strong_weak_split([], 10)


def test_registered_split_weak_records_carry_the_true_tags(tiny_toy):
    strong_name, weak_name = register_strong_weak_split(SEMANTIC, strong_percent=25, seed=3)
    assert (strong_name, weak_name) == split_names(SEMANTIC, 25) == (f"{SEMANTIC}_strong25", f"{SEMANTIC}_weak75")
    assert register_strong_weak_split(SEMANTIC, strong_percent=25, seed=3) == (strong_name, weak_name)  # no-op
    strong, weak = DatasetCatalog.get(strong_name), DatasetCatalog.get(weak_name)
    assert len(strong) == 4 and len(weak) == 12
    for record in weak:
        label_map = np.asarray(Image.open(record["sem_seg_file_name"]))
        assert record["image_tags"] == sorted(int(c) for c in np.unique(label_map) if c != 255)
    assert all("image_tags" not in r for r in strong)
    meta = MetadataCatalog.get(weak_name)
    assert meta.stuff_classes == MetadataCatalog.get(SEMANTIC).stuff_classes and meta.split_of == SEMANTIC


def write_copy(tiny_toy, path, relabel_first_to=None):
    """A copy of the tiny toy train json (as a tool would write one), the first annotation optionally relabelled."""
    meta = MetadataCatalog.get("toy_tiny_train")
    data = json.loads(open(meta.json_file).read())
    if relabel_first_to is not None:
        data["annotations"][0]["category_id"] = relabel_first_to
    path.write_text(json.dumps(data))
    return data


def test_register_coco_file_reads_the_copy_with_the_originals_images_and_metadata(tiny_toy, tmp_path):
    data = write_copy(tiny_toy, tmp_path / "copy.json", relabel_first_to=3)
    name = register_coco_file(str(tmp_path / "copy.json"), like="toy_tiny_train")
    assert register_coco_file(str(tmp_path / "copy.json"), like="toy_tiny_train") == name  # idempotent
    meta, source = MetadataCatalog.get(name), MetadataCatalog.get("toy_tiny_train")
    assert meta.image_root == source.image_root and meta.thing_classes == source.thing_classes
    assert meta.json_file == str((tmp_path / "copy.json").resolve()) and meta.copy_of == "toy_tiny_train"
    loaded = DatasetCatalog.get(name)
    assert len(loaded) == len(data["images"])
    first_image = min(loaded, key=lambda r: r["image_id"])  # the copy's first annotation belongs to some image
    assert any(a["category_id"] == 2 for r in loaded for a in r["annotations"]) and first_image["annotations"]


def test_register_coco_file_bad_inputs(tiny_toy, tmp_path):
    write_copy(tiny_toy, tmp_path / "a.json")
    with pytest.raises(ValueError, match="like='nope' is not a registered dataset"):
        register_coco_file(str(tmp_path / "a.json"), like="nope")
    name = register_coco_file(str(tmp_path / "a.json"), like="toy_tiny_train", name="copy_a")
    with pytest.raises(ValueError, match="'copy_a' is taken by"):
        register_coco_file(str(tmp_path / "b.json"), like="toy_tiny_train", name=name)


def test_a_missing_tool_output_is_named_as_such(tiny_toy, tmp_path):
    name = register_coco_file(str(tmp_path / "not_written_yet.json"), like="toy_tiny_train")
    with pytest.raises(UserInputError, match="json_file .* does not exist. it is a tool's output"):
        check_datasets_available([name])


def test_a_config_names_a_tool_output_with_a_lazy_call(tiny_toy, tmp_path):
    """dataset_names (what the training loop checks) registers LazyCall entries and gives their names, and
    detectron2's loader reads them: a config can name a file that a later step writes."""
    write_copy(tiny_toy, tmp_path / "later.json")
    cfg = LazyConfig.load("configs/toy/mask_rcnn_R18_FPN_ce.py")
    cfg.dataloader.train.dataset.names = L(register_coco_file)(
        json_file=str(tmp_path / "later.json"), like="toy_tiny_train"
    )
    [name] = dataset_names(cfg.dataloader.train)
    assert name == register_coco_file(str(tmp_path / "later.json"), like="toy_tiny_train")
    cfg.dataloader.train.dataset.names = ["toy_tiny_train", cfg.dataloader.train.dataset.names]
    assert dataset_names(cfg.dataloader.train) == ["toy_tiny_train", name]
    assert len(get_detection_dataset_dicts([name])) == len(DatasetCatalog.get("toy_tiny_train"))
