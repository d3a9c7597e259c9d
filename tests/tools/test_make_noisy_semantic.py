"""tools/make_noisy_dataset.py --dataset: noisy label PNGs of a registered semantic dataset, each equal to what
NoisySemSegDatasetMapper injects on the fly for the same noise; the input is never written."""
import copy
import hashlib
import os
from pathlib import Path

import cv2
import numpy as np
import orjson
import pytest

from detectron2.data import DatasetCatalog, MetadataCatalog

import make_noisy_dataset  # tools/ is on sys.path (tests/conftest.py)
from noisy_seg.data import NoisySemSegDatasetMapper
from noisy_seg.noise import named_noise_spec

SEMANTIC = "toy_tiny_cityscapes_sem_seg_train"


def run(*args) -> int:
    return make_noisy_dataset.main([*map(str, args), "--no-progress"])


def error_of(*args) -> str:
    with pytest.raises(SystemExit) as exit_info:
        run(*args)
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "\n" not in message, message
    return message


def label_root(records) -> Path:
    return Path(os.path.commonpath([str(Path(r["sem_seg_file_name"]).resolve().parent) for r in records]))


def written_map(output: Path, record, root: Path) -> np.ndarray:
    path = output / Path(record["sem_seg_file_name"]).resolve().relative_to(root).with_suffix(".png")
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def tree_hashes(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("noise", ["sem40", "semdilate50_s3", "boundarygrow5_s1"])
def test_written_maps_equal_the_mapper_and_the_input_is_untouched(tiny_toy, tmp_path, noise):
    records = DatasetCatalog.get(SEMANTIC)
    before = tree_hashes(tiny_toy)
    output = tmp_path / "noisy"
    assert run("--dataset", SEMANTIC, "--output", output, "--noise", noise) == 0
    assert tree_hashes(tiny_toy) == before

    mapper = NoisySemSegDatasetMapper(is_train=True, augmentations=[], noise=noise, num_classes=19,
                                      image_format="BGR", keep_clean_sem_seg=True)
    root = label_root(records)
    changed = pixels = 0
    for record in records:
        mapped = mapper(copy.deepcopy(record))
        written = written_map(output, record, root)
        assert written is not None and written.dtype == np.uint8 and written.ndim == 2
        np.testing.assert_array_equal(written, mapped["sem_seg"].numpy())
        changed += int((mapped["sem_seg"] != mapped["sem_seg_clean"]).sum())
        pixels += written.size
    assert changed > 0

    manifest = orjson.loads((output / "manifest.json").read_bytes())
    assert manifest["dataset"] == SEMANTIC and manifest["num_maps"] == len(records)
    assert manifest["noise"] == orjson.loads(orjson.dumps({**named_noise_spec(noise), "ignore_label": 255}))
    assert (manifest["changed_pixels"], manifest["pixels"]) == (changed, pixels)
    assert manifest["changed_fraction"] == pytest.approx(changed / pixels)
    assert len(manifest["files"]) == len(records)


def test_a_type_with_flags_writes_what_its_short_name_writes(tiny_toy, tmp_path):
    assert run("--dataset", SEMANTIC, "--output", tmp_path / "by_name", "--noise", "boundarygrow5_s1") == 0
    assert run("--dataset", SEMANTIC, "--output", tmp_path / "by_flags", "--noise", "markov_boundary",
               "--rate", "0.05", "--grow-prob", "0.8", "--seed", "1") == 0
    by_name, by_flags = tree_hashes(tmp_path / "by_name"), tree_hashes(tmp_path / "by_flags")
    by_name.pop("manifest.json"), by_flags.pop("manifest.json")
    assert by_name == by_flags and len(by_name) == len(DatasetCatalog.get(SEMANTIC))


def test_refuses_a_non_empty_output_folder_unless_overwrite(tiny_toy, tmp_path):
    output = tmp_path / "noisy"
    output.mkdir()
    (output / "other.txt").write_text("keep")
    assert "exists and is not empty; pass --overwrite" in error_of("--dataset", SEMANTIC, "--output", output,
                                                                   "--noise", "sem30")
    assert run("--dataset", SEMANTIC, "--output", output, "--noise", "sem30", "--overwrite") == 0
    assert (output / "manifest.json").exists()


@pytest.fixture(scope="module")
def bad_semantic(tiny_toy, tmp_path_factory):
    """A registered dataset whose label map holds 50 (no class of 19, not ignore), and no stuff_classes."""
    folder = tmp_path_factory.mktemp("bad_semantic")
    image, label = folder / "img_0.png", folder / "labels" / "img_0.png"
    label.parent.mkdir()
    cv2.imwrite(str(image), np.zeros((16, 16, 3), np.uint8))
    cv2.imwrite(str(label), np.full((16, 16), 50, np.uint8))
    name = "test_make_noisy_semantic_bad"
    if name not in DatasetCatalog.list():
        DatasetCatalog.register(name, lambda: [{"file_name": str(image), "sem_seg_file_name": str(label),
                                                "height": 16, "width": 16}])
        MetadataCatalog.get(name).set(ignore_label=255)
    return name


def test_refusals_are_one_error_line(tiny_toy, tmp_path, bad_semantic):
    output = tmp_path / "out"
    records = DatasetCatalog.get(SEMANTIC)
    assert "--dataset no_such_set is not a registered dataset; semantic ones include" in error_of(
        "--dataset", "no_such_set", "--output", output, "--noise", "sem30")
    assert "is not a semantic dataset" in error_of("--dataset", "toy_tiny_train", "--output", output,
                                                   "--noise", "sem30")
    assert "is the input label folder" in error_of("--dataset", SEMANTIC, "--output", label_root(records),
                                                   "--noise", "sem30")
    assert "is noise for instance annotations" in error_of("--dataset", SEMANTIC, "--output", output,
                                                           "--noise", "sym40")
    assert "--report is for --input" in error_of("--dataset", SEMANTIC, "--output", output, "--noise", "sem30",
                                                 "--report", tmp_path / "r.json")
    assert "disagrees with the 19 stuff_classes" in error_of("--dataset", SEMANTIC, "--output", output,
                                                             "--noise", "sem30", "--num-classes", "8")
    assert "no stuff_classes in its metadata; give --num-classes" in error_of(
        "--dataset", bad_semantic, "--output", output, "--noise", "sem30")
    message = error_of("--dataset", bad_semantic, "--output", output, "--noise", "boundary5", "--num-classes", "19")
    assert "img_0.png: label_map contains 50, neither a class in [0, 19) nor ignore 255" in message
    assert "--steps does not apply to --noise semantic" in error_of("--dataset", SEMANTIC, "--output", output,
                                                                    "--noise", "semantic", "--rate", "0.3",
                                                                    "--steps", "3")
    assert "--noise markov_boundary: steps must be a non-negative int" in error_of(
        "--dataset", SEMANTIC, "--output", output, "--noise", "markov_boundary", "--rate", "0.1", "--steps", "-2")
    json_input = tmp_path / "instances.json"
    json_input.write_bytes(orjson.dumps({"images": [], "annotations": [], "categories": []}))
    assert "is noise for semantic label maps: give --dataset" in error_of("--input", json_input, "--output",
                                                                         tmp_path / "o.json", "--noise", "sem30")


def test_background_op_from_flags(tiny_toy, tmp_path):
    """The background op needs the background class: a flag here (a dict spec in a mapper), never a short name."""
    records = DatasetCatalog.get(SEMANTIC)
    assert run("--dataset", SEMANTIC, "--output", tmp_path / "bg", "--noise", "semantic", "--rate", "1.0",
               "--ops", "background", "--background-label", "0") == 0
    mapper = NoisySemSegDatasetMapper(is_train=True, augmentations=[], image_format="BGR", num_classes=19,
                                      noise={"type": "semantic", "rate": 1.0, "ops": ["background"],
                                             "background_label": 0})
    root = label_root(records)
    for record in records[:4]:
        written = written_map(tmp_path / "bg", record, root)
        np.testing.assert_array_equal(written, mapper(copy.deepcopy(record))["sem_seg"].numpy())
        assert set(np.unique(written).tolist()) <= {0, 255}
