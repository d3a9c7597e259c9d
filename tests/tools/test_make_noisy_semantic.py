"""tools/make_noisy_dataset.py --dataset: noisy label PNGs of a registered semantic dataset, each equal to what
NoisySemSegDatasetMapper injects on the fly for the same noise; the input is never written."""

import copy
import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np
import orjson
import pytest

from detectron2.data import DatasetCatalog, MetadataCatalog

from noisy_seg.cli import make_noisy_dataset
from noisy_seg.data import NoisySemSegDatasetMapper
from noisy_seg.noise import named_noise_spec
from noisy_seg.utils.files import TEMP_PREFIX, png_is_complete
from noisy_seg.utils.run_folder import FINISHED, RUN_RECORD, STARTED, run_state

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
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("noise", ["sem40", "semdilate50_s3", "boundarygrow5_s1"])
def test_written_maps_equal_the_mapper_and_the_input_is_untouched(tiny_toy, tmp_path, noise):
    records = DatasetCatalog.get(SEMANTIC)
    before = tree_hashes(tiny_toy)
    output = tmp_path / "noisy"
    assert run("--dataset", SEMANTIC, "--output", output, "--noise", noise) == 0
    assert tree_hashes(tiny_toy) == before

    mapper = NoisySemSegDatasetMapper(  # as the toy config builds it: the maps' background is 0 (road)
        is_train=True,
        augmentations=[],
        noise=noise,
        num_classes=19,
        image_format="BGR",
        keep_clean_sem_seg=True,
        background_label=0,
    )
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
    expected = {**named_noise_spec(noise), "ignore_label": 255, "background_label": 0}  # the metadata's background
    assert manifest["noise"] == orjson.loads(orjson.dumps(expected))
    assert (manifest["changed_pixels"], manifest["pixels"]) == (changed, pixels)
    assert manifest["changed_fraction"] == pytest.approx(changed / pixels)
    assert len(manifest["files"]) == len(records)


def test_a_type_with_flags_writes_what_its_short_name_writes(tiny_toy, tmp_path):
    assert run("--dataset", SEMANTIC, "--output", tmp_path / "by_name", "--noise", "boundarygrow5_s1") == 0
    assert (
        run(
            "--dataset",
            SEMANTIC,
            "--output",
            tmp_path / "by_flags",
            "--noise",
            "markov_boundary",
            "--rate",
            "0.05",
            "--grow-prob",
            "0.8",
            "--seed",
            "1",
        )
        == 0
    )
    by_name, by_flags = tree_hashes(tmp_path / "by_name"), tree_hashes(tmp_path / "by_flags")
    for tree in (by_name, by_flags):
        tree.pop("manifest.json"), tree.pop(RUN_RECORD)  # both say how the noise was named
    assert by_name == by_flags and len(by_name) == len(DatasetCatalog.get(SEMANTIC))


def test_refuses_a_non_empty_output_folder_unless_overwrite(tiny_toy, tmp_path):
    output = tmp_path / "noisy"
    output.mkdir()
    (output / "other.txt").write_text("keep")
    assert error_of("--dataset", SEMANTIC, "--output", output, "--noise", "sem30") == (
        f"error: --output {output} already holds files (other.txt); choose a new folder, or pass --overwrite to "
        "replace its files"
    )
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
        DatasetCatalog.register(
            name, lambda: [{"file_name": str(image), "sem_seg_file_name": str(label), "height": 16, "width": 16}]
        )
        MetadataCatalog.get(name).set(ignore_label=255)
    return name


def test_refusals_are_one_error_line(tiny_toy, tmp_path, bad_semantic):
    output = tmp_path / "out"
    records = DatasetCatalog.get(SEMANTIC)
    assert "--dataset no_such_set is not a registered dataset; semantic ones include" in error_of(
        "--dataset", "no_such_set", "--output", output, "--noise", "sem30"
    )
    assert "is not a semantic dataset" in error_of(
        "--dataset", "toy_tiny_train", "--output", output, "--noise", "sem30"
    )
    assert "is the input label folder" in error_of(
        "--dataset", SEMANTIC, "--output", label_root(records), "--noise", "sem30"
    )
    assert "is noise for instance annotations" in error_of(
        "--dataset", SEMANTIC, "--output", output, "--noise", "sym40"
    )
    assert "--report is for --input" in error_of(
        "--dataset", SEMANTIC, "--output", output, "--noise", "sem30", "--report", tmp_path / "r.json"
    )
    assert "disagrees with the 19 stuff_classes" in error_of(
        "--dataset", SEMANTIC, "--output", output, "--noise", "sem30", "--num-classes", "8"
    )
    assert "no stuff_classes in its metadata; give --num-classes" in error_of(
        "--dataset", bad_semantic, "--output", output, "--noise", "sem30"
    )
    message = error_of("--dataset", bad_semantic, "--output", output, "--noise", "boundary5", "--num-classes", "19")
    assert "img_0.png: label_map contains 50, neither a class in [0, 19) nor ignore 255" in message
    assert "--steps does not apply to --noise semantic" in error_of(
        "--dataset", SEMANTIC, "--output", output, "--noise", "semantic", "--rate", "0.3", "--steps", "3"
    )
    assert "--noise markov_boundary: steps must be a non-negative int" in error_of(
        "--dataset", SEMANTIC, "--output", output, "--noise", "markov_boundary", "--rate", "0.1", "--steps", "-2"
    )
    json_input = tmp_path / "instances.json"
    json_input.write_bytes(orjson.dumps({"images": [], "annotations": [], "categories": []}))
    assert "is noise for semantic label maps: give --dataset" in error_of(
        "--input", json_input, "--output", tmp_path / "o.json", "--noise", "sem30"
    )


def test_background_op_from_flags(tiny_toy, tmp_path):
    """The background op needs the background class: a flag here (a dict spec in a mapper), never a short name."""
    records = DatasetCatalog.get(SEMANTIC)
    assert (
        run(
            "--dataset",
            SEMANTIC,
            "--output",
            tmp_path / "bg",
            "--noise",
            "semantic",
            "--rate",
            "1.0",
            "--ops",
            "background",
            "--background-label",
            "0",
        )
        == 0
    )
    mapper = NoisySemSegDatasetMapper(
        is_train=True,
        augmentations=[],
        image_format="BGR",
        num_classes=19,
        noise={"type": "semantic", "rate": 1.0, "ops": ["background"], "background_label": 0},
    )
    root = label_root(records)
    for record in records[:4]:
        written = written_map(tmp_path / "bg", record, root)
        np.testing.assert_array_equal(written, mapper(copy.deepcopy(record))["sem_seg"].numpy())
        assert set(np.unique(written).tolist()) <= {0, 255}


def test_sembg_takes_the_datasets_background_from_its_metadata(tiny_toy, tmp_path):
    """Issue 25: sembg<NN> offline asked for --background-label, then refused it with a short name. The toy maps'
    metadata names their background (0, road): the short name needs no flag, and equals the mapper's noise."""
    records = DatasetCatalog.get(SEMANTIC)
    assert MetadataCatalog.get(SEMANTIC).background_label == 0
    assert run("--dataset", SEMANTIC, "--output", tmp_path / "bg", "--noise", "sembg50") == 0
    manifest = json.loads((tmp_path / "bg" / "manifest.json").read_text())
    assert manifest["noise"]["background_label"] == 0 and manifest["changed_pixels"] > 0
    mapper = NoisySemSegDatasetMapper(
        is_train=True, augmentations=[], image_format="BGR", num_classes=19, noise="sembg50", background_label=0
    )
    root = label_root(records)
    for record in records[:4]:
        np.testing.assert_array_equal(
            written_map(tmp_path / "bg", record, root), mapper(copy.deepcopy(record))["sem_seg"].numpy()
        )
    name = "toy_tiny_no_background_sem_seg"  # a dataset that names no background: one line, nothing written
    if name not in DatasetCatalog.list():
        DatasetCatalog.register(name, lambda: records)
        metadata = MetadataCatalog.get(SEMANTIC)
        MetadataCatalog.get(name).set(stuff_classes=metadata.stuff_classes, ignore_label=255)
    message = error_of("--dataset", name, "--output", tmp_path / "never", "--noise", "sembg50")
    assert "names none (no background_label in its metadata): give --background-label" in message
    assert not (tmp_path / "never").exists()


# ------------------------------------------------------------------------- nothing half-written (issue 21, item 3)
NOISE = ("--noise", "sem30_s2")


def whole(folder: Path) -> dict:
    """relative name -> (a whole PNG, or a json, and its sha256) for every file under `folder`, temp files too; not
    the run record, whose state is checked on its own (run_state)."""
    return {
        name: (name == "manifest.json" or png_is_complete(folder / name), digest)
        for name, digest in tree_hashes(folder).items()
        if name != RUN_RECORD
    }


@pytest.fixture(scope="module")
def reference(tiny_toy, tmp_path_factory) -> dict:
    output = tmp_path_factory.mktemp("reference") / "noisy"
    assert run("--dataset", SEMANTIC, "--output", output, *NOISE) == 0
    return whole(output)


def test_a_disk_that_fills_up_stops_in_one_line_with_no_empty_map(small_disk, reference):
    """The probe: the output on a small tmpfs. Before, cv2.imwrite committed 0-byte PNGs under their final names
    there; now the run stops at the first map that does not fit, and every file it wrote is whole."""
    output = small_disk.mount("24k") / "noisy"
    message = error_of("--dataset", SEMANTIC, "--output", output, *NOISE)
    assert message.startswith(f"error: could not write {output}/") and message.endswith(
        ": No space left on device; fix that and rerun with --overwrite"
    ), message
    stopped = whole(output)
    assert 0 < len(stopped) < len(reference) - 1 and "manifest.json" not in stopped
    assert all(stopped[name] == reference[name] for name in stopped), stopped
    assert run_state(output) == STARTED
    small_disk.resize("1m")
    assert run("--dataset", SEMANTIC, "--output", output, *NOISE, "--overwrite") == 0
    assert whole(output) == reference


def test_a_writer_that_reports_success_for_an_empty_file_is_caught(tmp_path, monkeypatch, reference):
    """The probe: from its 3rd file on the writer writes nothing and says it wrote (what cv2.imwrite did on a full
    disk): one error line, no empty map under a final name; the rerun writes every map."""
    real_write_bytes = Path.write_bytes
    calls = []

    def writes_nothing_after_two(path, data):
        calls.append(path)
        real_write_bytes(path, data if len(calls) <= 2 else b"")
        return len(data)

    monkeypatch.setattr(Path, "write_bytes", writes_nothing_after_two)
    output = tmp_path / "noisy"
    message = error_of("--dataset", SEMANTIC, "--output", output, *NOISE)
    assert message.startswith(f"error: could not write {output}/") and "wrote 0 of " in message, message
    monkeypatch.undo()
    stopped = whole(output)
    assert len(stopped) == 1 and all(stopped[name] == reference[name] for name in stopped), stopped  # 2nd: run.json
    assert run_state(output) == STARTED
    assert run("--dataset", SEMANTIC, "--output", output, *NOISE, "--overwrite") == 0
    assert whole(output) == reference and run_state(output) == FINISHED


def test_the_rerun_removes_the_temp_file_of_a_killed_write(tiny_toy, tmp_path, writer_in_another_process, reference):
    """The probe: SIGKILL the tool's process while it writes its first map; the hidden temp file stays beside the
    output. The rerun removes it."""
    output = tmp_path / "noisy"
    records = DatasetCatalog.get(SEMANTIC)
    first_map = output / Path(records[0]["sem_seg_file_name"]).resolve().relative_to(label_root(records))
    killed, stale = writer_in_another_process(first_map.with_suffix(".png"))
    killed.kill()
    killed.wait()
    assert stale.is_file() and stale.name.startswith(TEMP_PREFIX)
    assert run("--dataset", SEMANTIC, "--output", output, *NOISE, "--overwrite") == 0
    assert whole(output) == reference  # the temp file is gone


@pytest.fixture()
def sixteen_bit_semantic(tmp_path):
    """A registered dataset of 16-bit label maps: classes above 255 (400 classes), ignore label 65535."""
    name = f"u16_sem_{tmp_path.name}"
    records = []
    rng = np.random.default_rng(0)
    for i in range(2):
        image, label = tmp_path / f"img{i}.png", tmp_path / f"lab{i}.png"
        cv2.imwrite(str(image), rng.integers(0, 255, (32, 40, 3), dtype=np.uint8))
        label_map = np.zeros((32, 40), np.uint16)
        label_map[4:20, 5:25], label_map[22:30, 10:38], label_map[0, :] = 300, 399, 65535
        cv2.imwrite(str(label), label_map)
        records.append(
            {"file_name": str(image), "sem_seg_file_name": str(label), "height": 32, "width": 40, "image_id": i}
        )
    DatasetCatalog.register(name, lambda: copy.deepcopy(records))
    MetadataCatalog.get(name).set(stuff_classes=[f"c{i}" for i in range(400)], ignore_label=65535)
    yield name
    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def test_sixteen_bit_maps_keep_their_classes_and_equal_the_mapper(sixteen_bit_semantic, tmp_path):
    """Read at their own depth, as the mapper reads them: 8-bit reading clipped every class above 255 to 255."""
    output = tmp_path / "noisy"
    assert run("--dataset", sixteen_bit_semantic, "--output", output, "--noise", "semrelabel100_s2") == 0
    mapper = NoisySemSegDatasetMapper(
        is_train=True,
        augmentations=[],
        noise="semrelabel100_s2",
        num_classes=400,
        ignore_label=65535,
        image_format="BGR",
        keep_clean_sem_seg=True,
    )
    records = DatasetCatalog.get(sixteen_bit_semantic)
    root = label_root(records)
    for record in records:
        mapped = mapper(copy.deepcopy(record))
        written = written_map(output, record, root)
        assert written.dtype == np.uint16
        np.testing.assert_array_equal(written, mapped["sem_seg"].numpy())
        assert (mapped["sem_seg_clean"].numpy() == 300).any() and (written != mapped["sem_seg_clean"].numpy()).any()
