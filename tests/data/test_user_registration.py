"""One's own datasets for the tools (issue 25, own data everywhere): `--register MODULE:FUNCTION` calls the user's
registration function first, so a yacs config's DATASETS.TRAIN and a tool's --dataset may name datasets only the
user's code registers; bad specs are one line."""

import json
import os
import shutil
import sys

import pytest

from noisy_seg.cli import train_net, visualize_noise
from noisy_seg.data.datasets.toy_shapes import coco_paths
from noisy_seg.utils.errors import UserInputError
from noisy_seg.utils.registration import register_user_datasets

MODULE = """
from detectron2.data.datasets import register_coco_instances

def register_all():
    register_coco_instances("{name}", {{}}, "{json}", "{images}")
"""


@pytest.fixture
def own_module(tiny_toy, tmp_path, monkeypatch):
    """A module `my_datasets_<n>` beside the user (the current folder) whose register_all() registers a copy of the
    tiny toy training json under a name of its own."""
    json_file, image_root = coco_paths(tiny_toy, "train")
    copy = tmp_path / "my_train.json"
    shutil.copy(json_file, copy)
    name = f"my_own_train_{tmp_path.name}"
    module = f"my_datasets_{tmp_path.name}".replace("-", "_")
    (tmp_path / f"{module}.py").write_text(MODULE.format(name=name, json=copy, images=image_root))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))  # restored after: the function exports to it
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    return f"{module}:register_all", name


@pytest.mark.slow
def test_a_yacs_training_and_a_tool_on_a_dataset_the_user_registers(repo_root, own_module, tmp_path):
    spec, name = own_module
    output = tmp_path / "yacs_out"
    train_net.cli(
        [
            "--register",
            spec,
            "--config-file",
            str(repo_root / "configs/toy/yacs/mask_rcnn_R18_FPN_ce.yaml"),
            "DATASETS.TRAIN",
            f"('{name}',)",
            "DATASETS.TEST",
            "()",
            "SOLVER.MAX_ITER",
            "2",
            "SOLVER.IMS_PER_BATCH",
            "2",
            "DATALOADER.NUM_WORKERS",
            "0",
            "OUTPUT_DIR",
            str(output),
        ]
    )
    rows = [json.loads(line) for line in (output / "metrics.json").read_text().splitlines()]
    assert rows and rows[-1]["iteration"] == 1
    picture = tmp_path / "noise.png"  # the same function, called once per process: a second tool reuses it
    assert (
        visualize_noise.main(["--register", spec, "--dataset", name, "--noise", "sym40", "--output", str(picture)]) == 0
    )
    assert picture.is_file()


def test_bad_register_specs_are_one_line(own_module):
    spec, _ = own_module
    module = spec.split(":")[0]
    cases = [
        ("no_colon", "give MODULE:FUNCTION"),
        ("no_such_module_xyz:f", "cannot import no_such_module_xyz"),
        (f"{module}:missing", f"{module} has no function missing"),
    ]
    for bad, expected in cases:
        with pytest.raises(UserInputError, match=expected):
            register_user_datasets([bad])
    with pytest.raises(SystemExit) as exit_info:
        visualize_noise.main(["--register", "no_colon", "--dataset", "x", "--output", "y.png"])
    assert str(exit_info.value.code).startswith("error: --register 'no_colon': give MODULE:FUNCTION")


def test_fold_views_register_the_users_dataset_first_and_children_find_the_module(own_module, tmp_path):
    """find-label-errors' fold trainings run in fresh processes in the repository: the view's LazyCall carries the
    --register specs, and the module's folder is on PYTHONPATH for them."""
    from detectron2.data import DatasetCatalog

    from noisy_seg.cli.find_label_errors import _registration
    from noisy_seg.data import register_coco_view

    spec, name = own_module
    json_file = tmp_path / "my_train.json"
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps([json.loads(json_file.read_text())["images"][0]["id"]]))
    override = _registration(str(json_file), name, str(tmp_path), ids, [spec])
    assert f"register:['{spec}']" in override and f"like:'{name}'" in override
    assert name not in DatasetCatalog.list()  # a fresh process: only the function registers it
    view = register_coco_view(str(json_file), name, str(ids), register=[spec])
    assert name in DatasetCatalog.list() and len(DatasetCatalog.get(view)) == 1
    assert str(tmp_path.resolve()) in os.environ["PYTHONPATH"].split(os.pathsep)
