"""tools/generate_pseudo_labels.py end to end with the toy Semantic FPN (random init, a checkpoint in tmp), and
each bad input as one clear line with nothing written or overwritten."""

import hashlib
import subprocess
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from detectron2.config import LazyConfig
from detectron2.data import DatasetCatalog

from noisy_seg.cli import generate_pseudo_labels as tool
from noisy_seg.utils.files import TEMP_PREFIX, load_json, png_is_complete, save_json_atomic

from pseudo_label_stand_ins import NUM_CLASSES, VAL

CONFIG = "configs/toy/semantic_R18_FPN_ce.py"


@pytest.fixture(scope="module")
def checkpoints(random_weights, tmp_path_factory):
    """The toy semantic model's random-init weights, the same model's with 8 classes, and another architecture's."""
    linear = tmp_path_factory.mktemp("weights") / "linear.pth"
    torch.save({"model": torch.nn.Linear(3, 2).state_dict()}, linear)
    return {
        "toy": random_weights(CONFIG, "semantic_toy"),
        "eight_classes": random_weights(CONFIG, "semantic_eight_classes", **{"sem_seg_head.num_classes": 8}),
        "linear": str(linear),
    }


def run(repo_root, weights, output, *extra, dataset=VAL, config=None):
    return tool.main(
        [
            "--config-file",
            config or str(repo_root / CONFIG),
            "--weights",
            weights,
            "--dataset",
            dataset,
            "--output",
            str(output),
            "--no-progress",
            *map(str, extra),
        ]
    )


def tree(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_end_to_end_default_scales_with_flip_then_resume(repo_root, tiny_toy, checkpoints, tmp_path, capsys):
    output = tmp_path / "pseudo"
    assert run(repo_root, checkpoints["toy"], output, "train.device=cpu") == 0
    printed = capsys.readouterr().out
    assert "wrote 4 pseudo label maps" in printed and "mIoU" in printed and "coverage 100.0%" in printed
    manifest = load_json(output / "manifest.json")
    assert manifest["settings"]["scales"] == [0.5, 0.75, 1.0, 1.25, 1.5] and manifest["settings"]["flip"]
    assert manifest["settings"]["checkpoint"] == checkpoints["toy"]
    assert 0 <= manifest["quality"]["mIoU"] <= 100 and manifest["quality"]["images"] == 4
    records = DatasetCatalog.get(VAL)
    for record, entry in zip(records, manifest["records"]):
        labels = cv2.imread(str(output / entry["sem_seg_file_name"]), cv2.IMREAD_UNCHANGED)
        assert entry["file_name"] == record["file_name"] and labels.shape == (record["height"], record["width"])
        assert labels.dtype == np.uint8 and labels.max() < NUM_CLASSES  # no threshold: every pixel labelled
    before = tree(output)
    assert run(repo_root, checkpoints["toy"], output, "--resume") == 0  # finished: nothing redone or changed
    assert tree(output) == before


def error_of(*args, **kwargs) -> str:
    with pytest.raises(SystemExit) as exit_info:
        run(*args, **kwargs)
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "\n" not in message, message
    return message


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--scales", "1", "0"], "--scales must be positive numbers, got 1 0"),
        (["--scales", "-0.5"], "--scales must be positive numbers"),
        (["--threshold", "1.5"], "--threshold must lie in [0, 1], got 1.5"),
        (["--threshold", "-0.1"], "--threshold must lie in [0, 1]"),
        (["--relabel-threshold", "0.5"], "--relabel-threshold does not apply to --task semantic"),
        (["--task", "instance", "--no-flip"], "--no-flip does not apply to --task instance"),
        (["--mask-iou-threshold", "2", "--task", "instance"], "--mask-iou-threshold must lie in [0, 1]"),
        (["--num-gpus", "0"], "--num-gpus and --num-machines must be at least 1, got 0 and 1"),
        (["--num-machines", "2", "--machine-rank", "2"], "--machine-rank must lie in [0, 2), got 2"),
        (["--num-machines", "2"], "several machines need --dist-url"),
    ],
)
def test_bad_flags(repo_root, checkpoints, tmp_path, extra, expected):
    assert expected in error_of(repo_root, checkpoints["toy"], tmp_path / "out", *extra)
    assert not (tmp_path / "out").exists()


def test_missing_files(repo_root, checkpoints, tmp_path):
    assert "config file 'nope.py' not found" in error_of(
        repo_root, checkpoints["toy"], tmp_path / "out", config="nope.py"
    )
    assert f"--weights {tmp_path}/none.pth not found" in error_of(
        repo_root, str(tmp_path / "none.pth"), tmp_path / "out"
    )
    assert "--tag-file tags.json not found" in error_of(
        repo_root, checkpoints["toy"], tmp_path / "out", "--tag-file", "tags.json"
    )
    assert not (tmp_path / "out").exists()


def test_weights_of_another_class_count_or_architecture(repo_root, tiny_toy, checkpoints, tmp_path):
    message = error_of(repo_root, checkpoints["eight_classes"], tmp_path / "out")
    assert (
        "do not fit the model of the config: parameters 2 with other shapes (sem_seg_head.predictor.weight: "
        "(8, 32, 1, 1) in the file, (19, 32, 1, 1) in the model, sem_seg_head.predictor.bias" in message
    )
    assert "missing" not in message
    message = error_of(repo_root, checkpoints["linear"], tmp_path / "out")
    assert "missing from the file (backbone." in message and "2 not in the model (weight, bias)" in message
    message = error_of(repo_root, checkpoints["eight_classes"], tmp_path / "out", "model.sem_seg_head.num_classes=8")
    assert f"the model predicts 8 classes but dataset '{VAL}' has 19" in message
    not_a_checkpoint = tmp_path / "notes.pth"
    not_a_checkpoint.write_text("hello")
    assert "cannot be read as a checkpoint" in error_of(repo_root, str(not_a_checkpoint), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unregistered_dataset(repo_root, checkpoints, tmp_path):
    message = error_of(repo_root, checkpoints["toy"], tmp_path / "out", dataset="toy_shapes_no_such_set")
    assert "dataset 'toy_shapes_no_such_set' is not registered" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "tags, expected",
    [
        ({"toycity_000000_000000_leftImg8bit": ["road", "dragon"]}, "names class 'dragon', which is not one of the 19"),
        ({"toycity_000000_000000_leftImg8bit": [19]}, "names class 19, which is not one of the 19"),
        (
            {"toycity_000000_000000_leftImg8bit": [0], "nope": [1], "gone": [2]},
            "2 image(s) are not in the dataset (e.g. 'gone', 'nope')",
        ),
    ],
)
def test_bad_tag_files(repo_root, tiny_toy, checkpoints, tmp_path, tags, expected):
    save_json_atomic(tags, tmp_path / "tags.json")
    assert expected in error_of(repo_root, checkpoints["toy"], tmp_path / "out", "--tag-file", tmp_path / "tags.json")
    assert not (tmp_path / "out").exists()


def test_an_output_folder_with_files_is_refused_and_kept(repo_root, tiny_toy, checkpoints, tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    (output / "notes.txt").write_text("mine")
    assert (
        f"--output {output} already holds files (notes.txt); choose a new folder, or resume an interrupted run "
        "into it (--resume) with the same settings" in error_of(repo_root, checkpoints["toy"], output)
    )
    assert "holds files but no run.json: it is not a run to resume" in error_of(
        repo_root, checkpoints["toy"], output, "--resume"
    )
    assert tree(output) == {"notes.txt": hashlib.sha256(b"mine").hexdigest()}


def test_resume_with_other_settings_is_refused_and_changes_nothing(repo_root, tiny_toy, checkpoints, tmp_path):
    output = tmp_path / "out"
    assert run(repo_root, checkpoints["toy"], output, "--scales", "1", "--no-flip") == 0
    before = tree(output)
    message = error_of(repo_root, checkpoints["toy"], output, "--scales", "1", "--resume")
    assert "holds a run with other settings (flip; e.g. flip: False there, True now)" in message
    assert tree(output) == before


@pytest.mark.slow
def test_the_script_prints_one_line_without_traceback(repo_root, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "tools/generate_pseudo_labels.py",
            "--config-file",
            "missing.py",
            "--weights",
            "w.pth",
            "--dataset",
            VAL,
            "--output",
            str(tmp_path / "out"),
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.strip() == (
        "error: config file 'missing.py' not found, and no packaged config is named "
        "'missing.py'; `python -m noisy_seg.model_zoo` lists the names"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_task_instance_calls_the_instance_correction(repo_root, tiny_toy, checkpoints, tmp_path, monkeypatch, capsys):
    calls = []

    def correct_instance_labels(model, dataset_name, output_dir, **options):
        calls.append((type(model).__name__, dataset_name, output_dir, options))
        return {"relabelled": 0}

    fake = types.ModuleType("noisy_seg.pseudo_labels.instance")
    fake.correct_instance_labels = correct_instance_labels
    monkeypatch.setitem(sys.modules, "noisy_seg.pseudo_labels.instance", fake)
    assert run(repo_root, checkpoints["toy"], tmp_path / "out", "--task", "instance", "--relabel-threshold", 0.7) == 0
    [(model, dataset, output, options)] = calls
    assert (model, dataset, output) == ("NoisySemanticSegmentor", VAL, str(tmp_path / "out"))
    assert options["relabel_threshold"] == 0.7 and "mask_iou_threshold" not in options  # its default applies
    assert options["resume"] is False and options["image_format"] == "BGR" and options["augmentations"] == []
    assert "{'relabelled': 0}" in capsys.readouterr().out


def test_dataset_defaults_to_the_configs_one_training_set(repo_root, tiny_toy):
    """Without --dataset the config's training set is labelled (a name, or a LazyCall registering a tool's output);
    a config that trains on several sets needs --dataset."""
    from detectron2.config import LazyCall as L

    from noisy_seg.data import register_pseudo_label_dataset
    from noisy_seg.utils.errors import UserInputError

    cfg = LazyConfig.load(str(repo_root / CONFIG))
    cfg.dataloader.train.dataset.names = VAL
    assert tool.default_dataset(cfg) == VAL
    cfg.dataloader.train.dataset.names = [VAL, L(register_pseudo_label_dataset)(manifest_path="elsewhere/x.json")]
    with pytest.raises(UserInputError, match=r"pass --dataset: the config trains on 2 datasets \(" + VAL):
        tool.default_dataset(cfg)


# ------------------------------------------------------------------------- nothing half-written (issue 21, item 3)
ONE_VIEW = ("--scales", "1", "--no-flip")


def maps(folder):
    """The label and confidence PNGs under `folder`: relative name -> (whole, sha256); temp files included."""
    return {
        name: (png_is_complete(folder / name), digest)
        for name, digest in tree(folder).items()
        if name not in ("manifest.json", "run.json")
    }


@pytest.fixture(scope="module")
def reference_maps(repo_root, tiny_toy, checkpoints, tmp_path_factory):
    output = tmp_path_factory.mktemp("reference") / "pseudo"
    assert run(repo_root, checkpoints["toy"], output, *ONE_VIEW) == 0
    return maps(output)


def test_a_disk_that_fills_up_stops_in_one_line_and_resume_finishes(
    repo_root, tiny_toy, checkpoints, small_disk, reference_maps
):
    """The probe: the output on a small tmpfs. Before, cv2.imwrite committed 0-byte PNGs there and --resume skipped
    them; now the run stops at the first map that does not fit, nothing under a final name is empty or cut off,
    and --resume after space is freed ends with every map whole."""
    output = small_disk.mount("24k") / "pseudo"
    message = error_of(repo_root, checkpoints["toy"], output, *ONE_VIEW)
    assert message.startswith(f"error: could not write {output}/") and message.endswith(
        ": No space left on device; fix that and rerun with --resume"
    ), message
    stopped = maps(output)
    assert 0 < len(stopped) < len(reference_maps) and all(whole for whole, _ in stopped.values()), stopped
    small_disk.resize("1m")
    assert run(repo_root, checkpoints["toy"], output, *ONE_VIEW, "--resume") == 0
    assert maps(output) == reference_maps
    assert load_json(output / "manifest.json")["complete"]


def test_a_writer_that_reports_success_for_an_empty_file_is_caught_and_resume_redoes_bad_maps(
    repo_root, tiny_toy, checkpoints, tmp_path, monkeypatch, reference_maps
):
    """The probe: the writer writes nothing from its 5th file on and says it wrote (what cv2.imwrite did on a full
    disk): one error line, no empty file committed. Then --resume, with 0-byte and cut-off maps under final names
    (what the unchecked writer left), redoes those and the missing ones."""
    real_write_bytes = Path.write_bytes
    calls = []

    def writes_nothing_after_four(path, data):
        calls.append(path)
        real_write_bytes(path, data if len(calls) <= 4 else b"")  # the run record, the manifest, one image's maps
        return len(data)

    monkeypatch.setattr(Path, "write_bytes", writes_nothing_after_four)
    output = tmp_path / "pseudo"
    message = error_of(repo_root, checkpoints["toy"], output, *ONE_VIEW)
    assert message.startswith(f"error: could not write {output}/labels/") and "wrote 0 of " in message, message
    monkeypatch.undo()
    assert sorted(maps(output).values()) == sorted(reference_maps[name] for name in maps(output))
    assert len(maps(output)) == 2

    names = sorted(reference_maps)
    (output / names[2]).parent.mkdir(exist_ok=True)
    (output / names[2]).write_bytes(b"")  # an earlier run's 0-byte map
    (output / names[-1]).write_bytes((repo_root / "README.md").read_bytes()[:10])  # and a cut-off one
    assert run(repo_root, checkpoints["toy"], output, *ONE_VIEW, "--resume") == 0
    assert maps(output) == reference_maps


def test_resume_removes_the_temp_file_of_a_killed_write(
    repo_root, tiny_toy, checkpoints, tmp_path, writer_in_another_process, reference_maps
):
    """The probe: SIGKILL a process while it writes a label map; its hidden temp file stays beside the output.
    The next run (--resume) removes it and writes the map."""
    output = tmp_path / "pseudo"
    assert run(repo_root, checkpoints["toy"], output, *ONE_VIEW) == 0
    first_map = output / sorted(reference_maps)[0]
    first_map.unlink()
    killed, stale = writer_in_another_process(first_map)
    killed.kill()
    killed.wait()
    assert stale.is_file() and stale.parent == first_map.parent and stale.name.startswith(TEMP_PREFIX)
    assert run(repo_root, checkpoints["toy"], output, *ONE_VIEW, "--resume") == 0
    assert maps(output) == reference_maps  # the temp file is gone, every map is whole


def test_a_folder_holding_only_a_killed_runs_temp_files_is_a_new_output(
    repo_root, tiny_toy, checkpoints, tmp_path, writer_in_another_process, reference_maps
):
    output = tmp_path / "pseudo"
    killed, stale = writer_in_another_process(output / "manifest.json")
    killed.kill()
    killed.wait()
    assert [p.name for p in output.iterdir()] == [stale.name]
    assert run(repo_root, checkpoints["toy"], output, *ONE_VIEW) == 0
    assert maps(output) == reference_maps
