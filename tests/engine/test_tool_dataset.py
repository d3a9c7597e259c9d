"""A tool's dataset, named three ways (noisy_seg/engine/tool_dataset.py): a registered name, a COCO json read like a
registered set, or a config whose code registers it; and the tools that take them (visualize-noise,
make-noisy-dataset), end to end on the tiny toy set."""

import json

import cv2
import pytest

from detectron2.data import DatasetCatalog, MetadataCatalog

from noisy_seg.cli import make_noisy_dataset, visualize_noise
from noisy_seg.engine import resolve_tool_dataset
from noisy_seg.utils.errors import UserInputError

# a LazyConfig of the user's: its code registers a dataset (a copy of the tiny toy set under the user's name) and
# names it as the training set, as a detectron2 user's config would
USER_CONFIG = """
from detectron2.data import DatasetCatalog, MetadataCatalog

from noisy_seg.model_zoo import get_config

NAME = "{name}"
if NAME not in DatasetCatalog.list():
    DatasetCatalog.register(NAME, lambda: DatasetCatalog.get("{source}"))
    MetadataCatalog.get(NAME).set(**{{
        k: v for k, v in MetadataCatalog.get("{source}").as_dict().items() if k not in ("name", "json_file")
    }})
_base = get_config("{base}")
dataloader, model = _base.dataloader, _base.model
dataloader.train.dataset.names = NAME
"""


def _user_config(tmp_path, name, source, base="toy/mask_rcnn_R18_FPN_ce.py"):
    path = tmp_path / f"{name}.py"
    path.write_text(USER_CONFIG.format(name=name, source=source, base=base))
    return str(path)


def test_a_registered_name_is_itself_and_an_unknown_one_is_one_line(tiny_toy):
    assert resolve_tool_dataset("toy_tiny_train") == "toy_tiny_train"
    with pytest.raises(UserInputError, match="dataset 'no_such_set' is not registered"):
        resolve_tool_dataset("no_such_set")
    with pytest.raises(UserInputError, match="give --dataset"):
        resolve_tool_dataset(None)


def test_a_json_file_is_read_like_a_registered_set(tiny_toy, tmp_path):
    source = MetadataCatalog.get("toy_tiny_train")
    copy = tmp_path / "my_copy.json"
    copy.write_text(open(source.json_file).read())
    name = resolve_tool_dataset(str(copy), like="toy_tiny_train")
    assert MetadataCatalog.get(name).thing_classes == source.thing_classes
    assert len(DatasetCatalog.get(name)) == len(DatasetCatalog.get("toy_tiny_train"))
    with pytest.raises(UserInputError, match="is a json file: give --like"):
        resolve_tool_dataset(str(copy))
    with pytest.raises(UserInputError, match="--like and --image-root are for a --dataset json file"):
        resolve_tool_dataset("toy_tiny_train", like="toy_tiny_val")
    with pytest.raises(UserInputError, match="not found"):
        resolve_tool_dataset(str(tmp_path / "missing.json"), like="toy_tiny_train")
    with pytest.raises(UserInputError, match="dataset 'nope' is not registered"):
        resolve_tool_dataset(str(copy), like="nope")


def test_a_config_registers_its_datasets_and_names_its_training_set(tiny_toy, tmp_path):
    config = _user_config(tmp_path, "my_shapes_train", "toy_tiny_train")
    assert resolve_tool_dataset(None, config_file=config) == "my_shapes_train"
    assert resolve_tool_dataset("toy_tiny_val", config_file=config) == "toy_tiny_val"  # --dataset picks another
    yacs = tmp_path / "my.yaml"
    yacs.write_text("MODEL:\n  MASK_ON: True\nDATASETS:\n  TRAIN: ('toy_tiny_train',)\n  TEST: ()\n")
    assert resolve_tool_dataset(None, config_file=str(yacs)) == "toy_tiny_train"
    no_train = tmp_path / "none.yaml"
    no_train.write_text("MODEL:\n  MASK_ON: True\n")
    with pytest.raises(UserInputError, match="names no train dataset; give --dataset"):
        resolve_tool_dataset(None, config_file=str(no_train))


@pytest.mark.slow
def test_visualize_noise_takes_a_json_with_like_and_a_config(tiny_toy, tmp_path):
    source = MetadataCatalog.get("toy_tiny_train")
    copy = tmp_path / "mine.json"
    copy.write_text(open(source.json_file).read())
    out = tmp_path / "json.png"
    argv = ["--dataset", str(copy), "--like", "toy_tiny_train", "--noise", "coco_n_medium", "--images", "2"]
    assert visualize_noise.main([*argv, "--output", str(out)]) == 0
    assert cv2.imread(str(out)) is not None
    config = _user_config(tmp_path, "vis_shapes_train", "toy_tiny_train")
    out = tmp_path / "config.png"
    assert visualize_noise.main(["--config-file", config, "--images", "1", "--output", str(out)]) == 0
    assert cv2.imread(str(out)) is not None


@pytest.mark.slow
def test_make_noisy_dataset_takes_a_semantic_set_from_a_config(tiny_toy, tmp_path):
    config = _user_config(
        tmp_path, "my_sem_train", "toy_tiny_cityscapes_sem_seg_train", base="toy/semantic_R18_FPN_ce.py"
    )
    out = tmp_path / "noisy_maps"
    assert make_noisy_dataset.main(["--config-file", config, "--noise", "sem30", "--output", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"] == "my_sem_train" and manifest["num_maps"] == len(
        DatasetCatalog.get("toy_tiny_cityscapes_sem_seg_train")
    )
    with pytest.raises(SystemExit, match="a --input file needs none"):
        make_noisy_dataset.main(["--input", "x.json", "--config-file", config, "--noise", "sym40", "--output", "y"])
    with pytest.raises(SystemExit, match="give --input"):
        make_noisy_dataset.main(["--noise", "sym40", "--output", "y"])
