"""The manifests tools write and datasets register (pseudo labels: tools/generate_pseudo_labels.py; noisy label maps:
tools/make_noisy_dataset.py), hand-edited or broken: one UserInputError line naming the file, and label paths that
leave the manifest's folder refused."""

import os
from pathlib import Path

import orjson
import pytest

from detectron2.data import DatasetCatalog

from noisy_seg.data import register_noisy_label_maps, register_pseudo_label_dataset
from noisy_seg.data.datasets.manifest import load_pseudo_label_manifest
from noisy_seg.utils.errors import UserInputError

SEMANTIC = "toy_tiny_cityscapes_sem_seg_val"
RECORD = {
    "file_name": "/data/images/a.png",
    "sem_seg_file_name": "labels/a.png",
    "confidence_file_name": "confidence/a.png",
    "height": 8,
    "width": 8,
    "image_id": "a",
}


def _pseudo_labels(folder: Path, content) -> Path:
    folder.mkdir()
    manifest = folder / "manifest.json"
    manifest.write_bytes(content if isinstance(content, bytes) else orjson.dumps(content))
    return manifest


def _one_line_error(load) -> str:
    with pytest.raises(UserInputError) as err:
        load()
    assert "\n" not in str(err.value)
    return str(err.value)


def test_a_manifest_names_label_files_inside_its_folder(tmp_path):
    manifest = _pseudo_labels(tmp_path / "pseudo", {"settings": {}, "complete": True, "records": [RECORD]})
    (record,) = load_pseudo_label_manifest(manifest)
    assert record["sem_seg_file_name"] == str(manifest.parent / "labels/a.png")
    assert record["file_name"] == RECORD["file_name"]  # the source image: the source dataset's, not the manifest's


@pytest.mark.parametrize(
    "key, path",
    [
        ("sem_seg_file_name", "../../secrets/label.png"),
        ("sem_seg_file_name", "/etc/passwd"),
        ("confidence_file_name", "confidence/../../elsewhere.png"),
        ("sem_seg_file_name", 3),
    ],
)
def test_a_label_path_outside_the_manifest_folder_is_refused(tmp_path, key, path):
    manifest = _pseudo_labels(
        tmp_path / "pseudo", {"settings": {}, "complete": True, "records": [RECORD, {**RECORD, key: path}]}
    )
    name = register_pseudo_label_dataset(manifest, name=f"pseudo_outside_{tmp_path.name}")
    problem = (
        f"{manifest} gives {key} {path!r}, not a path inside its folder (relative, without ..); a manifest may "
        "only name files next to it"
    )
    assert _one_line_error(lambda: DatasetCatalog.get(name)) == f"dataset '{name}': {problem}"
    assert _one_line_error(lambda: load_pseudo_label_manifest(manifest)) == f"dataset 'pseudo labels': {problem}"


@pytest.mark.parametrize(
    "content, message",
    [
        ({"settings": {}, "complete": True}, "has no list of records (got NoneType)"),
        ({"settings": {}, "complete": True, "records": {"a": RECORD}}, "has no list of records (got dict)"),
        ({"settings": {}, "complete": True, "records": ["labels/a.png"]}, "has no list of records (got list)"),
        ([RECORD], "is not a pseudo-label manifest (a json object with settings, complete and records)"),
        ({"settings": [], "complete": True, "records": []}, "is not a pseudo-label manifest"),
        (b'{"complete": true, "records": [', "is not valid JSON"),
    ],
)
def test_a_broken_manifest_is_one_line(tmp_path, content, message):
    manifest = _pseudo_labels(tmp_path / "pseudo", content)
    name = register_pseudo_label_dataset(manifest, name=f"pseudo_broken_{tmp_path.name}")
    assert message in _one_line_error(lambda: DatasetCatalog.get(name))


def _noisy_maps(folder: Path, content) -> Path:
    folder.mkdir()
    (folder / "manifest.json").write_bytes(orjson.dumps(content))
    return folder


@pytest.mark.parametrize(
    "content, message",
    [
        ([SEMANTIC], "is not a noisy-label-map manifest (a json object with dataset and label_root)"),
        ({"dataset": SEMANTIC}, "is not a noisy-label-map manifest"),
        ({"dataset": SEMANTIC, "label_root": ["/"]}, "is not a noisy-label-map manifest"),
        ({"dataset": SEMANTIC, "label_root": os.sep + "elsewhere"}, "is not below the manifest's label_root"),
    ],
)
def test_a_broken_noisy_label_map_manifest_is_one_line(tiny_toy, tmp_path, content, message):
    folder = _noisy_maps(tmp_path / "noisy", content)
    name = register_noisy_label_maps(folder, like=SEMANTIC)
    assert message in _one_line_error(lambda: DatasetCatalog.get(name))
