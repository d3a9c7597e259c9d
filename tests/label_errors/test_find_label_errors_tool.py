"""tools/find_label_errors.py end to end on a few tiny toy images with injected class flips: a given (random-init)
toy Mask R-CNN checkpoint, K = 2 folds trained for 2 iterations by tools/train_net.py, and every bad input as one
clear line with nothing written."""

import hashlib
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch


from noisy_seg.cli import find_label_errors as tool
from detectron2.data import MetadataCatalog

from noisy_seg.data import register_coco_file
from noisy_seg.data.datasets.toy_shapes import coco_paths
from noisy_seg.inference import instance as instance_inference
from noisy_seg.pseudo_labels import evidence as evidence_module
from noisy_seg.pseudo_labels.label_issues import fold_image_ids, image_folds

# cleanlab says so for every class with few annotations, as on these few images
pytestmark = pytest.mark.filterwarnings("ignore:May not flag all label issues:UserWarning")

CONFIG = "configs/toy/mask_rcnn_R18_FPN_ce.py"
IMAGES = 5  # the last one without annotations: only detections (missing objects) can come from it
FLIPPED_EVERY = 3  # every third annotation gets the next class
SPATIAL_EVERY = 4  # and every fourth a "dilate" tag (its mask is left as it is: only the metrics are checked)
FOLD_ARGUMENTS = ["--folds", 2, "--no-masks", "--no-missing", "--method", "self_confidence", "--threshold", 0.99]
HELDOUT_CHECK = ["dataloader.test.dataset.names=toy_tiny_val", "dataloader.test.num_workers=0"]
TINY_TRAINING = [
    "train.max_iter=2",
    "dataloader.train.total_batch_size=2",
    "dataloader.train.num_workers=0",
    "dataloader.test.num_workers=0",
    "train.device=cpu",
]


@pytest.fixture(scope="module")
def noisy_small(tiny_toy, tmp_path_factory):
    """The first toy training images (the last one's annotations left out) with every third annotation flipped
    (clean_category_id kept), registered as a copy of the built-in toy set (so that a fresh training process knows
    it too)."""
    folder = tmp_path_factory.mktemp("noisy_small")
    json_file, image_root = coco_paths(tiny_toy, "train")
    coco = json.loads(json_file.read_text())
    images = coco["images"][:IMAGES]
    ids = {image["id"] for image in images[:-1]}
    annotations = [dict(a, clean_category_id=a["category_id"]) for a in coco["annotations"] if a["image_id"] in ids]
    for index, ann in enumerate(annotations):  # tags as tools/make_noisy_dataset.py writes them
        flipped, spatial = index % FLIPPED_EVERY == 0, index % SPATIAL_EVERY == 1
        ann["category_id"] = ann["category_id"] % 8 + 1 if flipped else ann["category_id"]
        ann["noise"] = "+".join(["class_flip"] * flipped + ["dilate"] * spatial) or "clean"
    path = folder / "noisy.json"
    path.write_text(json.dumps({**coco, "images": images, "annotations": annotations}))
    name = register_coco_file(str(path), like="toy_shapes_train", image_root=str(image_root))
    no_masks = folder / "no_masks.json"
    no_masks.write_text(
        json.dumps(
            {
                **coco,
                "images": images,
                "annotations": [{k: v for k, v in a.items() if k != "segmentation"} for a in annotations],
            }
        )
    )
    return {
        "name": name,
        "json": path,
        "annotations": annotations,
        "image_ids": [image["id"] for image in images],
        "no_masks": register_coco_file(str(no_masks), like="toy_shapes_train", image_root=str(image_root)),
    }


@pytest.fixture(scope="module")
def checkpoints(random_weights, tmp_path_factory):
    """Random-init weights of the toy Mask R-CNN, of the same model with 5 classes, and of another architecture."""
    linear = tmp_path_factory.mktemp("weights") / "linear.pth"
    torch.save({"model": torch.nn.Linear(3, 2).state_dict()}, linear)
    return {
        "toy": random_weights(CONFIG, "instance_toy"),
        "five_classes": random_weights(CONFIG, "instance_five_classes", **{"roi_heads.num_classes": 5}),
        "linear": str(linear),
    }


def run(repo_root, output, *extra, dataset):
    return tool.main(
        [
            "--config-file",
            str(repo_root / CONFIG),
            "--dataset",
            dataset,
            "--output",
            str(output),
            "--no-progress",
            *map(str, extra),
        ]
    )


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_given_checkpoint_end_to_end(repo_root, noisy_small, checkpoints, tmp_path, capsys):
    before = sha(noisy_small["json"])
    output = tmp_path / "out"
    arguments = ["--weights", checkpoints["toy"], "--top", "3", "--write-corrected", *HELDOUT_CHECK]
    assert run(repo_root, output, *arguments, dataset=noisy_small["name"]) == 0
    printed = capsys.readouterr()
    assert "caveat: predictions of one given checkpoint" in printed.err and "in-sample" in printed.err
    assert "issues in" in printed.out and "injected class noise" in printed.out
    # random weights: the held-out check (the config's test set) fails the gate, said plainly; asked, it writes
    assert "the scores are unreliable" in printed.err and "written anyway (--write-corrected)" in printed.err
    assert sha(noisy_small["json"]) == before  # the input is never written
    assert sorted(p.name for p in output.iterdir()) == [
        "corrected.json",
        "detections.json",
        "evidence",
        "heldout_check",
        "issues.json",
        "noise_matrix.png",
        "review",
        "run.json",
        "scores.json",
        "top",
        "weighted.json",
    ]

    report = json.loads((output / "issues.json").read_text())
    issues, summary, annotations = report["issues"], report["summary"], noisy_small["annotations"]
    assert report["settings"]["predictions"] == "given checkpoint" and report["settings"]["caveat"]
    assert [i["rank"] for i in issues] == list(range(1, len(issues) + 1))
    assert [i["score"] for i in issues] == sorted(i["score"] for i in issues)
    assert summary["issues"]["total"] == len(issues) and summary["scored"] == len(annotations)
    assert summary["images"] == IMAGES and summary["detections"] > 0
    gate = summary["quality_gate"]
    assert gate["metric"] == "segm/AP" and gate["bar"] == 5 and gate["models"]["checkpoint"] < 5
    assert not gate["passed"]
    by_id = {a["id"]: a for a in annotations}
    annotation_rows = [i["annotation_id"] for i in issues if i["annotation_id"] is not None]
    assert len(annotation_rows) == len(set(annotation_rows)) == summary["issues"]["annotations"]  # one row each
    for kind in ("class", "mask", "missing"):  # every reason of a row ranked within its type: 1..n
        ranks = sorted(i["ranks"][kind] for i in issues if kind in i["reasons"])
        assert ranks == list(range(1, summary["issues"][kind] + 1))
    for issue in issues:
        assert set(issue["reasons"]) <= {"class", "mask", "missing"} and 0 < issue["score"] <= 1
        if "missing" in issue["reasons"]:
            assert issue["reasons"] == ["missing"] and issue["annotation_id"] is None
            assert issue["best_iou"] < 0.5 and issue["detection_score"] >= 0.5
        else:
            assert by_id[issue["annotation_id"]]["category_id"] == issue["given_category_id"]
        if "class" in issue["reasons"]:
            assert issue["suggested_category_id"] != issue["given_category_id"]
            assert issue["relabel"] == (issue["suggested_prob"] > 0.5)
        else:
            assert not issue["relabel"]
    per_class = summary["per_class"]
    assert [c["category_id"] for c in per_class] == list(range(1, 9))
    assert sum(c["annotations"] for c in per_class) == len(annotations)
    assert sum(c["class_issues"] for c in per_class) == summary["issues"]["class"]
    estimate = summary["noise_estimate"]
    assert 0 <= estimate["noise_rate"] <= 1 and np.asarray(estimate["transition"]).shape == (8, 8)
    truth = np.asarray(estimate["injected"]["transition"])  # columns: P(given | clean) over the clean labels
    assert np.allclose(truth.sum(axis=0), 1.0)
    assert estimate["injected"]["noise_rate"] == pytest.approx(len(annotations[::FLIPPED_EVERY]) / len(annotations))
    flipped = sum(a["category_id"] != a["clean_category_id"] for a in annotations)
    noise = summary["label_noise"]
    assert noise["flipped"] == flipped == len(annotations[::FLIPPED_EVERY])
    for metrics in noise["scores"].values():
        assert 0 <= metrics["auroc"] <= 1 and 0 <= metrics["average_precision"] <= 1
    assert set(noise["scores"]) == {"self_confidence", "normalized_margin", "gmm", "calibrated_self_confidence"}
    assert summary["mask_noise"]["errors"] == len(annotations[1::SPATIAL_EVERY])  # the mask IoU against the tags

    scores = json.loads((output / "scores.json").read_text())
    assert [s["annotation_id"] for s in scores] == [a["id"] for a in annotations]
    class_issues = {i["annotation_id"]: i for i in issues if "class" in i["reasons"]}
    assert {s["annotation_id"] for s in scores if s["confident_learning"]} == set(class_issues)  # the default
    assert noise["flags"]["confident_learning"]["flagged"] == len(class_issues)

    corrected = json.loads((output / "corrected.json").read_text())
    assert [a["id"] for a in corrected["annotations"]] == [a["id"] for a in annotations]
    flagged = {i["annotation_id"]: i for i in issues if i["annotation_id"] is not None}
    for ann in corrected["annotations"]:
        original = by_id[ann["id"]]
        if ann["id"] not in flagged:
            assert ann == original
            continue
        issue = flagged[ann["id"]]
        assert ann["correction"]["reasons"] == issue["reasons"]
        if issue["relabel"]:  # the policy: a class issue whose suggestion is above --relabel-threshold
            assert ann["category_id"] == issue["suggested_category_id"]
            assert ann["original_category_id"] == original["category_id"]
        else:
            assert ann["category_id"] == original["category_id"] and "original_category_id" not in ann
    relabelled = sum(i["relabel"] for i in issues)
    changes = summary["corrections"]["label_noise"]
    assert summary["corrections"]["relabelled"] == relabelled
    assert changes["restored"] + changes["changed_still_wrong"] + changes["broken"] == relabelled
    weighted = json.loads((output / "weighted.json").read_text())  # the json as given + each GMM clean probability
    gmm = {row["annotation_index"]: row["gmm"] for row in scores}
    assert len(weighted["annotations"]) == len(annotations) and len(gmm) == len(annotations)
    for index, (ann, original) in enumerate(zip(weighted["annotations"], annotations)):
        assert ann.pop("loss_weight") == round(gmm[index], 4) and ann == original
    assert {key: value for key, value in weighted.items() if key != "annotations"} == {
        key: value for key, value in json.loads(noisy_small["json"].read_text()).items() if key != "annotations"
    }
    for kind in ("class", "mask", "missing"):  # the first 3 of each type, by rank within it
        pngs = sorted(p.name for p in (output / "top" / kind).glob("*.png")) if summary["issues"][kind] else []
        assert [name.split("_")[0] for name in pngs] == [
            f"{r:04d}" for r in range(1, min(3, summary["issues"][kind]) + 1)
        ]
    missing = [(i["image_id"], i["bbox"]) for i in issues if "missing" in i["reasons"]]

    review = (output / "review" / "data.js").read_text()  # the review page holds every row (fewer than its limit)
    assert review.startswith("window.REVIEW = ") and json.loads(review[16:-2])["shown"] == len(issues)
    assert {p.name for p in (output / "review").iterdir()} >= {"index.html", "review.js", "dataset.js", "crops"}
    detections = json.loads((output / "detections.json").read_text())  # every scored image, also without any
    assert detections["score_threshold"] == 0.5 and detections["box_mode"] == "XYWH_ABS"
    assert [entry["image_id"] for entry in detections["images"]] == noisy_small["image_ids"]
    assert sum(len(entry["scores"]) for entry in detections["images"]) == summary["detections"]
    for entry in detections["images"]:
        assert len(entry["boxes"]) == len(entry["scores"]) == len(entry["category_ids"]) and entry["fold"] is None
        assert all(score >= 0.5 for score in entry["scores"]) and set(entry["category_ids"]) <= set(range(1, 9))
    listed = {(entry["image_id"], tuple(box)) for entry in detections["images"] for box in entry["boxes"]}
    assert all((image_id, tuple(round(v, 2) for v in box)) in listed for image_id, box in missing)


def test_below_the_quality_gate_no_corrected_json_is_written(repo_root, noisy_small, checkpoints, tmp_path, capsys):
    output = tmp_path / "gated"
    arguments = ["--weights", checkpoints["toy"], "--top", 0, "--no-missing", *HELDOUT_CHECK]
    assert run(repo_root, output, *arguments, dataset=noisy_small["name"]) == 0
    assert "not written (--write-corrected)" in capsys.readouterr().err
    assert not (output / "corrected.json").exists() and (output / "issues.json").is_file()
    summary = json.loads((output / "issues.json").read_text())["summary"]
    assert not summary["quality_gate"]["passed"] and summary["corrections"]["relabel_threshold"] == 0.5


@pytest.mark.slow
def test_k_folds_train_on_the_other_folds_and_score_the_held_out_images(
    repo_root, noisy_small, checkpoints, tmp_path, monkeypatch, capsys
):
    """Fold 0 is trained for real (tools/train_net.py in a fresh process, 2 iterations); fold 1's training is stood
    in for by the random-init checkpoint, to keep the test short."""
    from noisy_seg.engine import launcher

    commands = []
    real_run_tool = launcher.run_tool

    def spy(command, log_file, **kwargs):
        commands.append(command)
        if len(commands) == 1:
            return real_run_tool(command, log_file, **kwargs)
        output_dir = Path([arg for arg in command if arg.startswith("train.output_dir=")][0].split("=", 1)[1][1:-1])
        shutil.copy(checkpoints["toy"], output_dir / "model_final.pth")  # and its evaluation on the held-out fold:
        (output_dir / "metrics.json").write_text(json.dumps({"iteration": 1, "bbox/AP": 1.0, "segm/AP": 1.0}) + "\n")
        return 0

    monkeypatch.setattr(launcher, "run_tool", spy)
    monkeypatch.setattr(evidence_module, "IMAGES_PER_SHARD", 1)
    output = tmp_path / "folds_out"
    assert (
        run(
            repo_root,
            output,
            *FOLD_ARGUMENTS,
            "--min-heldout-ap",
            0,
            "--top",
            1,
            *TINY_TRAINING,
            dataset=noisy_small["name"],
        )
        == 0
    )
    assert "caveat" not in capsys.readouterr().err

    assert len(commands) == 2
    for fold, command in enumerate(commands):
        assert command[1:3] == ["-m", "noisy_seg.cli.train_net"] and all(opt in command for opt in TINY_TRAINING)
        registration = [arg for arg in command if arg.startswith("dataloader.train.dataset.names={")][0]
        assert "noisy_seg.data.register_coco_view" in registration and "like:'toy_shapes_train'" in registration
        assert f"fold{fold}" in registration and str(noisy_small["json"]) in registration  # a view, not a copy
    folds = [set(json.loads((output / "folds" / f"fold{k}" / "heldout_ids.json").read_text())) for k in range(2)]
    trained = [set(json.loads((output / "folds" / f"fold{k}" / "train_ids.json").read_text())) for k in range(2)]
    assert sorted(p.name for p in (output / "folds" / "fold0").glob("*.json")) == [
        "heldout_ids.json",
        "train_ids.json",
    ]  # no json copies
    # the held-out evaluation covered the held-out images only (COCOEvaluator converted the view's records)
    evaluated = json.loads(
        next((output / "folds" / "fold0" / "model" / "inference").glob("*_coco_format.json")).read_text()
    )
    assert {image["id"] for image in evaluated["images"]} == folds[0]
    assert folds[0] | folds[1] == set(noisy_small["image_ids"]) and not folds[0] & folds[1]
    assert trained == [folds[1], folds[0]]  # each model trained on the other fold only
    assert (output / "folds" / "fold0" / "model" / "metrics.json").is_file()  # trained: 2 iterations logged
    assert all((output / "folds" / f"fold{k}" / "model" / "model_final.pth").is_file() for k in range(2))

    report = json.loads((output / "issues.json").read_text())
    assert report["settings"]["predictions"] == "out-of-sample" and report["settings"]["caveat"] is None
    assert report["summary"]["issues"]["mask"] == report["summary"]["issues"]["missing"] == 0
    assert report["summary"]["detections"] is None and not (output / "detections.json").exists()
    scores = json.loads((output / "scores.json").read_text())
    assert len(scores) == len(noisy_small["annotations"])
    for row in scores:
        assert row["image_id"] in folds[row["fold"]] and row["mask_iou"] is None
        assert row["flagged"] == (row["self_confidence"] < 0.99)
    assert [p.name for p in (output / "top").iterdir()] == ["class"]
    assert len(list((output / "top" / "class").iterdir())) == 1
    gate = report["summary"]["quality_gate"]  # each fold model's held-out box AP (--no-masks), read from its run
    assert gate["metric"] == "bbox/AP" and gate["models"]["fold 1"] == 1.0 and gate["passed"]  # bar 0
    assert set(gate["models"]) == {"fold 0", "fold 1"} and gate["models"]["fold 0"] is not None

    # killed after the fold trainings: --resume reuses them (no training runs) and writes the same outputs
    finished = {name: (output / name).read_bytes() for name in ("issues.json", "scores.json", "corrected.json")}
    record = json.loads((output / "run.json").read_text())
    (output / "run.json").write_text(json.dumps({**record, "finished": False}))
    for name in finished:
        (output / name).unlink()
    arguments = [*FOLD_ARGUMENTS, "--min-heldout-ap", 0]
    assert run(repo_root, output, *arguments, "--top", 1, "--resume", *TINY_TRAINING, dataset=noisy_small["name"]) == 0
    assert len(commands) == 2 and "fold 0: reused" in capsys.readouterr().out
    assert {name: (output / name).read_bytes() for name in finished} == finished

    # killed while scoring fold 0: --resume scores only the images of its missing shard
    shards = sorted((output / "evidence" / "fold0").iterdir())
    assert [shard.name for shard in shards][:2] == ["shard-000000", "shard-000001"]  # an image a shard
    left = len(np.load(shards[-1] / "images.image_id.npy"))
    shutil.rmtree(shards[-1])
    (output / "run.json").write_text(json.dumps({**record, "finished": False}))
    for name in finished:
        (output / name).unlink()
    scored = []
    real_predict = instance_inference.predict_on_given_boxes

    def counting(model, images, boxes, **kwargs):
        scored.extend(images)
        return real_predict(model, images, boxes, **kwargs)

    monkeypatch.setattr(instance_inference, "predict_on_given_boxes", counting)
    assert run(repo_root, output, *arguments, "--top", 1, "--resume", *TINY_TRAINING, dataset=noisy_small["name"]) == 0
    assert len(scored) == left and len(commands) == 2
    assert {name: (output / name).read_bytes() for name in finished} == finished


def test_fold_split_is_a_seeded_partition():
    ids = list(range(10, 17))
    fold_of = image_folds(ids, 3, seed=1)
    assert sorted(fold_of) == ids and sorted(Counter(fold_of.values()).values()) == [2, 2, 3]
    assert image_folds(ids, 3, seed=1) == fold_of and image_folds(ids, 3, seed=2) != fold_of
    train, heldout = fold_image_ids(ids, fold_of, fold_of[10])
    assert 10 in heldout and set(train) | set(heldout) == set(ids) and not set(train) & set(heldout)
    assert train == sorted(train) and heldout == sorted(heldout)  # the dataset's order


def error_of(*args, **kwargs) -> str:
    with pytest.raises(SystemExit) as exit_info:
        run(*args, **kwargs)
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "\n" not in message, message
    return message


def test_bad_inputs_are_one_line_and_write_nothing(repo_root, noisy_small, checkpoints, tmp_path):
    name, out = noisy_small["name"], tmp_path / "never"
    cases = [
        (["--weights", checkpoints["linear"]], name, "do not fit the model of the config"),
        (
            ["--weights", checkpoints["five_classes"], "model.roi_heads.num_classes=5"],
            name,
            f"the model predicts 5 classes but dataset '{name}' has 8",
        ),
        (["--weights", checkpoints["five_classes"]], name, "do not fit the model of the config: parameters"),
        (["--weights", checkpoints["toy"]], noisy_small["no_masks"], "has no segmentation masks: mask scoring needs"),
        (["--folds", 1], name, "--folds must be at least 2"),
        (["--weights", checkpoints["toy"], "--num-gpus", 0], name, "--num-gpus and --num-machines must be at least"),
        (["--folds", IMAGES + 1], name, f"--folds {IMAGES + 1} is more than the {IMAGES} images"),
        ([], name, "pass --weights"),
        (["--weights", checkpoints["toy"], "--threshold", 0.3], name, "--threshold does not apply"),
        (["--weights", checkpoints["toy"], "--mask-threshold", 2], name, r"--mask-threshold must lie in [0, 1]"),
        (["--weights", checkpoints["toy"], "--relabel-threshold", 0], name, "--relabel-threshold must lie in (0, 1]"),
        (["--weights", checkpoints["toy"], "--relabel-threshold", 1.5], name, "--relabel-threshold must lie in"),
        (["--weights", checkpoints["toy"], "--min-heldout-ap", -1], name, "--min-heldout-ap is a COCO AP in [0, 100]"),
        (["--weights", checkpoints["toy"], "--min-heldout-ap", 101], name, "--min-heldout-ap is a COCO AP"),
        (["--folds", 2, "train.output_dir=elsewhere"], name, "train.output_dir is set by the tool"),
        (["--weights", str(tmp_path / "none.pth")], name, "not found"),
        (["--weights", checkpoints["toy"]], str(noisy_small["json"]), "is a json file: give --like"),
        (["--weights", checkpoints["toy"], "--like", "toy_shapes_train"], name, "are for a --dataset json file"),
        (["--weights", checkpoints["toy"], "--like", "toy_shapes_train"], str(tmp_path / "none.json"), "not found"),
        (
            ["--weights", checkpoints["toy"], "--like", "no_such_set"],
            str(noisy_small["json"]),
            "dataset 'no_such_set' is not registered",
        ),
    ]
    for extra, dataset, expected in cases:
        assert expected in error_of(repo_root, out, *extra, dataset=dataset)
        assert not out.exists()

    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    message = error_of(repo_root, taken, "--weights", checkpoints["toy"], dataset=name)
    assert "already holds files (notes.txt)" in message
    assert [p.name for p in taken.iterdir()] == ["notes.txt"] and (taken / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("change", ["renamed", "renumbered", "one more"])
def test_a_json_whose_categories_differ_from_like_is_one_line(repo_root, noisy_small, checkpoints, tmp_path, change):
    """Issue 21: --dataset FILE.json --like NAME with other categories than NAME's stopped on detectron2's
    MetadataCatalog assertion (a traceback)."""
    coco = json.loads(noisy_small["json"].read_text())
    categories = coco["categories"]
    if change == "renamed":
        categories[2] = dict(categories[2], name="hexagon")
    elif change == "renumbered":
        coco["categories"] = [dict(c, id=c["id"] + 10) for c in categories]
        coco["annotations"] = [dict(a, category_id=a["category_id"] + 10) for a in coco["annotations"]]
    else:
        categories.append({"id": 99, "name": "hexagon"})
    other = tmp_path / f"{change.replace(' ', '_')}.json"
    other.write_text(json.dumps(coco))
    out = tmp_path / "never"
    image_root = MetadataCatalog.get(noisy_small["name"]).image_root
    message = error_of(
        repo_root,
        out,
        "--weights",
        checkpoints["toy"],
        "--like",
        "toy_shapes_train",
        "--image-root",
        image_root,
        dataset=str(other),
    )
    assert f"{other} is registered like toy_shapes_train, but its categories differ from toy_shapes_train's" in message
    assert "'hexagon'" in message or "(id 11)" in message
    assert not out.exists()


@pytest.mark.slow
def test_bad_input_exits_2_with_one_line(repo_root, noisy_small, checkpoints, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("mine")
    assert f"--output {blocker / 'out'} cannot be made: {blocker} is a file" in error_of(
        repo_root, blocker / "out", "--weights", checkpoints["toy"], dataset=noisy_small["name"]
    )
    result = subprocess.run(
        [
            sys.executable,
            "tools/find_label_errors.py",
            "--config-file",
            CONFIG,
            "--dataset",
            noisy_small["name"],
            "--output",
            str(tmp_path / "never"),
            "--folds",
            "1",
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith("error: --folds must be at")
    assert "Traceback" not in result.stderr and not (tmp_path / "never").exists()


@pytest.mark.slow
def test_two_processes_score_a_given_checkpoint_as_one(repo_root, noisy_small, checkpoints, tiny_toy, tmp_path):
    """--num-gpus 2 on a CPU machine: detectron2's launch starts 2 gloo processes, each scores half of the images,
    the first writes what one process writes (the dataset as a json file: fresh processes register it too)."""
    _, image_root = coco_paths(tiny_toy, "train")
    common = ["--weights", checkpoints["toy"], "--top", 0, "--no-heldout-check", "--like", "toy_shapes_train"]
    common += ["--image-root", image_root]  # no held-out check: the scores are what the processes must agree on
    assert run(repo_root, tmp_path / "one", *common, dataset=str(noisy_small["json"])) == 0
    assert run(repo_root, tmp_path / "two", *common, "--num-gpus", 2, dataset=str(noisy_small["json"])) == 0
    one, two = (json.loads((tmp_path / name / "scores.json").read_text()) for name in ("one", "two"))
    assert [s["annotation_id"] for s in two] == [s["annotation_id"] for s in one]
    for mine, reference in zip(two, one):
        for key, value in reference.items():
            assert mine[key] == (pytest.approx(value, abs=1e-6) if isinstance(value, float) else value), key
    issues = [json.loads((tmp_path / name / "issues.json").read_text())["issues"] for name in ("one", "two")]
    assert [(i["reasons"], i["annotation_id"]) for i in issues[1]] == [
        (i["reasons"], i["annotation_id"]) for i in issues[0]
    ]
    detections = [json.loads((tmp_path / name / "detections.json").read_text()) for name in ("one", "two")]
    assert [d["image_id"] for d in detections[1]["images"]] == [d["image_id"] for d in detections[0]["images"]]


@pytest.mark.slow
def test_k_fold_scoring_splits_over_two_processes(repo_root, noisy_small, checkpoints, tiny_toy, tmp_path, monkeypatch):
    """The folds trained (stood in for by the random-init checkpoint), a resumed run scores them with --num-gpus 2
    (2 gloo processes, each scoring its share of each fold's images) and writes what one process wrote."""
    from noisy_seg.engine import launcher

    def stand_in(command, log_file, **kwargs):
        output_dir = Path([arg for arg in command if arg.startswith("train.output_dir=")][0].split("=", 1)[1][1:-1])
        shutil.copy(checkpoints["toy"], output_dir / "model_final.pth")
        (output_dir / "metrics.json").write_text(json.dumps({"iteration": 1, "bbox/AP": 1.0, "segm/AP": 1.0}) + "\n")
        return 0

    monkeypatch.setattr(launcher, "run_tool", stand_in)
    _, image_root = coco_paths(tiny_toy, "train")
    output = tmp_path / "folds"
    common = ["--folds", 2, "--top", 0, "--write-corrected", "--like", "toy_shapes_train", "--image-root", image_root]
    assert run(repo_root, output, *common, *TINY_TRAINING, dataset=str(noisy_small["json"])) == 0
    names = ("issues.json", "scores.json", "corrected.json", "detections.json")
    one = {name: json.loads((output / name).read_text()) for name in names}
    record = json.loads((output / "run.json").read_text())
    (output / "run.json").write_text(json.dumps({**record, "finished": False}))
    for name in names:
        (output / name).unlink()
    shutil.rmtree(output / "evidence")  # the folds are scored again, by 2 processes
    resumed = [*common, "--resume", "--num-gpus", 2, *TINY_TRAINING]  # the overrides last: they end the arguments
    assert run(repo_root, output, *resumed, dataset=str(noisy_small["json"])) == 0
    two = {name: json.loads((output / name).read_text()) for name in names}
    assert [s["annotation_id"] for s in two["scores.json"]] == [s["annotation_id"] for s in one["scores.json"]]
    for mine, reference in zip(two["scores.json"], one["scores.json"]):
        assert mine["fold"] == reference["fold"]
        assert mine["self_confidence"] == pytest.approx(reference["self_confidence"], abs=1e-6)
    issues = [[(i["reasons"], i["annotation_id"]) for i in run_["issues.json"]["issues"]] for run_ in (one, two)]
    assert issues[0] == issues[1]
    images = [[d["image_id"] for d in run_["detections.json"]["images"]] for run_ in (one, two)]
    assert images[0] == images[1]
