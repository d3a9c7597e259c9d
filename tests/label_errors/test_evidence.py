"""benchmarks/label_error_evidence.py: the known errors derived from noise tags, clean_category_id and dropped ids,
the cleanlab.object_detection adapter's format, the semantic proposals' hits, the noisy label maps' registration, the
report; and one tiny end to end run on given random-init checkpoints (no training), reused when run again."""

import json

import cv2
import numpy as np
import pytest
from cleanlab.object_detection import rank as cleanlab_rank

from detectron2.data import DatasetCatalog, MetadataCatalog

from noisy_seg.data import register_coco_file, register_noisy_label_maps
from noisy_seg.data.datasets.toy_shapes import coco_paths
from noisy_seg.label_errors.objectlab import cleanlab_box_scores, cleanlab_inputs
from noisy_seg.pseudo_labels.label_issues import spatially_noised
from noisy_seg.utils.errors import UserInputError

from noisy_seg.cli import label_error_evidence as evidence
from noisy_seg.cli import make_noisy_dataset

# cleanlab says so for every class with few annotations, as on these few images
pytestmark = pytest.mark.filterwarnings("ignore:May not flag all label issues:UserWarning")


# ------------------------------------------------------------------------------------------------- known errors
def test_bad_mask_truth_is_a_spatial_op_that_was_applied():
    tags = {
        "clean": False,
        "class_flip": False,
        "dilate": True,
        "erode_skipped": False,
        "class_flip+jitter": True,
        "class_flip+simplify_skipped": False,
        "simplify": True,
    }
    assert {tag: spatially_noised(tag) for tag in tags} == tags


def score_row(annotation_id, given, clean, noise, confidence, mask_iou=0.9, flagged=False):
    return {
        "annotation_id": annotation_id,
        "image_id": 1,
        "annotation_index": annotation_id - 1,
        "given_category_id": given,
        "clean_category_id": clean,
        "noise": noise,
        "self_confidence": confidence,
        "normalized_margin": confidence,
        "gmm": confidence,
        "mask_iou": mask_iou,
        "confident_learning": flagged,
    }


def test_class_flip_and_bad_mask_rows_take_their_truth_from_the_scores_rows():
    scores = [
        score_row(1, 2, 1, "class_flip", 0.1, flagged=True),
        score_row(2, 1, 1, "clean", 0.9),
        score_row(3, 3, 3, "dilate", 0.8, mask_iou=0.2),
        score_row(4, 2, 2, "erode_skipped", 0.7, mask_iou=None),
    ]
    peer = {"cleanlab defaults": {"swap": np.array([0.5, 1.0, 1.0, 1.0]), "badloc": np.array([1.0, 1.0, 0.3, 1.0])}}
    rows = evidence.class_flip_rows("sym40", scores, peer)
    assert [(row["method"], row["score"]) for row in rows] == [
        ("ours", "self_confidence"),
        ("ours", "normalized_margin"),
        ("ours", "gmm"),
        ("ours", "confident_learning"),
        ("cleanlab", "swap"),
    ]
    assert all(row["n"] == 4 and row["errors"] == 1 for row in rows)
    assert rows[0]["auroc"] == rows[0]["ap"] == 1.0 and rows[0]["p10"] is None  # first; fewer than 10 ranked
    assert "precision 1.000, recall 1.000" in rows[3]["note"] and rows[3]["auroc"] is None
    masks = evidence.bad_mask_rows("coco_n_medium", scores, peer)
    assert [row["errors"] for row in masks] == [1, 1] and masks[0]["auroc"] == 1.0
    assert "no masks" in masks[1]["note"]


def test_dropped_annotations_and_the_detections_that_find_them():
    clean = {
        "annotations": [
            {"id": 1, "image_id": 7, "bbox": [0, 0, 10, 10]},
            {"id": 2, "image_id": 7, "bbox": [50, 50, 10, 10]},
            {"id": 3, "image_id": 8, "bbox": [0, 0, 10, 10]},
        ]
    }
    noisy = {"annotations": [dict(clean["annotations"][0], noise="clean")]}  # 2 and 3 were dropped
    assert [ann["id"] for ann in evidence.dropped_annotations(clean, noisy)] == [2, 3]
    detections = evidence.detection_arrays(
        {
            "images": [
                {
                    "image_id": 7,
                    "boxes": [[0, 0, 10, 10], [51, 51, 10, 10], [80, 80, 5, 5]],
                    "scores": [0.9, 0.8, 0.6],
                    "category_ids": [1, 2, 1],
                },
                {"image_id": 8, "boxes": [[20, 20, 10, 10]], "scores": [0.7], "category_ids": [2]},
                {"image_id": 9, "boxes": [], "scores": [], "category_ids": []},
            ]
        },
        {1: 0, 2: 1},
    )
    assert detections["images"] == [7, 8, 9] and detections["classes"].tolist() == [0, 1, 0, 1]
    found = evidence.found_dropped(detections, evidence.dropped_annotations(clean, noisy))
    assert found.tolist() == [False, True, False, False]  # the one on dropped annotation 2; image 8's is elsewhere
    ours = evidence.missing_candidate_scores(detections, noisy["annotations"], match_iou=0.5)
    assert np.isnan(ours[0]) and np.allclose(ours[1:], [0.2, 0.4, 0.3])  # matched: no candidate
    rows = evidence.missing_object_rows(
        "drop20",
        detections,
        noisy,
        clean,
        {"cleanlab defaults": {"overlooked": np.array([np.nan, 0.1, 0.5, 0.6])}},
        match_iou=0.5,
    )
    assert [row["errors"] for row in rows] == [1, 1] and rows[0]["note"].startswith("1 of 2 dropped annotations")
    assert rows[0]["auroc"] == 1.0 and rows[1]["auroc"] == 1.0


# ------------------------------------------------------------------------------------------------- cleanlab adapter
def test_cleanlab_inputs_are_its_per_image_format_and_scores_come_back_in_input_order():
    annotation_boxes = [[0, 0, 10, 10], [20, 20, 5, 5], [0, 0, 8, 8]]  # XYWH
    detection_boxes = [[0, 0, 10, 10], [20, 20, 5, 5], [1, 1, 8, 8], [40, 40, 6, 6]]
    detection_scores = [0.99, 0.97, 0.6, 0.98]
    detection_classes = [1, 0, 2, 0]
    arguments = (
        annotation_boxes,
        [0, 1, 2],
        [5, 5, 6],
        detection_boxes,
        detection_scores,
        detection_classes,
        [5, 5, 6, 7],
    )
    labels, predictions, annotation_slots, detection_slots = cleanlab_inputs(*arguments, num_classes=3)
    assert len(labels) == len(predictions) == 3  # images 5, 6, 7 (7: detections only)
    assert np.array_equal(labels[0]["bboxes"], [[0, 0, 10, 10], [20, 20, 25, 25]])  # XYXY
    assert labels[0]["labels"].tolist() == [0, 1] and labels[2]["bboxes"].shape == (0, 4)
    assert [p.shape for p in predictions[0]] == [(1, 5), (1, 5), (0, 5)]  # K arrays (M_k, 5), class by class
    assert np.allclose(predictions[0][0], [[20, 20, 25, 25, 0.97]]) and np.allclose(predictions[1][2][0, 4], 0.6)
    assert detection_slots.tolist() == [[0, 1], [0, 0], [1, 0], [2, 0]]  # image 5: class 0 first
    assert annotation_slots.tolist() == [[0, 0], [0, 1], [1, 0]]

    scores = cleanlab_box_scores(*arguments, num_classes=3)
    direct = {
        "swap": cleanlab_rank.compute_swap_box_scores(labels=labels, predictions=predictions),
        "badloc": cleanlab_rank.compute_badloc_box_scores(labels=labels, predictions=predictions),
        "overlooked": cleanlab_rank.compute_overlooked_box_scores(labels=labels, predictions=predictions),
    }
    for name, slots in (("swap", annotation_slots), ("badloc", annotation_slots), ("overlooked", detection_slots)):
        expected = [direct[name][image][j] for image, j in slots.tolist()]
        assert np.allclose(scores[name], expected, equal_nan=True)
    assert np.isnan(scores["overlooked"][0]) and scores["overlooked"][3] < 0.5  # on a label; no label of its class
    lower = cleanlab_box_scores(*arguments, num_classes=3, high_probability_threshold=0.5)
    assert not np.isnan(lower["overlooked"][3])

    with pytest.raises(UserInputError, match="must lie in 0..2"):
        cleanlab_inputs(*arguments[:5], [1, 0, 3, 0], arguments[6], num_classes=3)
    with pytest.raises(UserInputError, match="not among"):
        cleanlab_inputs(*arguments, num_classes=3, images=[5, 6])


# ------------------------------------------------------------------------------------------------- semantic
def test_a_proposal_hits_when_it_alone_overlaps_an_error_region_of_its_class():
    clean = np.zeros((1, 40, 40), np.int64)
    clean[0, 2:20, 2:20] = 11  # 324 px, dropped in the given map
    clean[0, 25:39, 25:39] = 12  # 196 px: under 250, never counted
    given = np.zeros_like(clean)
    given[0, 25:39, 25:39] = 12
    proposal_map = np.zeros((40, 40), np.int32)
    proposal_map[3:20, 3:20] = 1  # class 11 on the dropped region: a hit
    proposal_map[20:40, 0:20] = 2  # class 13 on the background: no hit
    proposal_map[25:39, 25:39] = 3  # too small to count
    proposals = {0: (proposal_map, np.array([11, 13, 14]), np.array([0.9, 0.8, 0.7]))}
    scores, hits = evidence.ranked_proposals(proposals, clean, given, num_classes=19)
    assert scores.tolist() == [0.9, 0.8] and hits.tolist() == [True, False]


def test_semantic_noise_is_drawn_with_the_seed_unless_the_name_carries_one():
    assert evidence.seeded_noise("sembg20", 0) == "sembg20_s0"
    assert evidence.seeded_noise("semrelabel40", 2) == "semrelabel40_s2"
    assert evidence.seeded_noise("sembg20_s5", 2) == "sembg20_s5"


def test_semantic_noise_flags_carry_the_background_label_that_a_name_cannot():
    assert evidence.semantic_writer_flags("semrelabel40", 0) == ["--noise", "semrelabel40", "--background-label", "0"]
    assert evidence.semantic_writer_flags("sembg20_s3", 0) == ["--noise", "sembg20_s3", "--background-label", "0"]
    assert evidence.semantic_issue("sembg20") == "dropped component"
    assert evidence.semantic_issue("semrelabel40") == "relabelled component"


@pytest.mark.parametrize("noise, seed", [("semrelabel40", 2), ("sembg50_s1", 3)])
def test_the_offline_val_maps_equal_what_the_training_mapper_injects(tiny_toy, tmp_path, noise, seed):
    """Issue 21: the semrelabel val maps were written without the background label (whole backgrounds relabelled,
    most maps unlike the training mapper's). Now each written map is the training mapper's, image by image."""
    import argparse

    from detectron2.config import instantiate

    from noisy_seg.engine import load_lazy_config

    cfg = load_lazy_config(evidence.SEMANTIC_CONFIG, [])
    background = cfg.dataloader.train.mapper.background_label
    dataset = "toy_tiny_cityscapes_sem_seg_val"
    args = argparse.Namespace(semantic_dataset=dataset, seed=seed)
    folder = evidence.write_noisy_val_maps(args, noise, tmp_path / "val_labels", background)
    cfg.dataloader.train.mapper.update(noise=evidence.seeded_noise(noise, seed), augmentations=[])
    mapper = instantiate(cfg.dataloader.train.mapper)
    assert mapper.noise.background_label == background == 0
    manifest = json.loads((folder / make_noisy_dataset.MANIFEST).read_text())
    assert manifest["noise"]["background_label"] == background
    changed = 0
    for record, written in zip(DatasetCatalog.get(dataset), manifest["files"]):
        injected = mapper(dict(record))["sem_seg"].numpy()
        clean = cv2.imread(record["sem_seg_file_name"], cv2.IMREAD_GRAYSCALE)
        offline = cv2.imread(str(folder / written["label"]), cv2.IMREAD_GRAYSCALE)
        np.testing.assert_array_equal(offline, injected, err_msg=record["file_name"])
        assert (offline[clean == background] == background).all()  # the background is left alone
        changed += int((offline != clean).any())
    assert changed > 0


def test_noisy_label_maps_register_as_a_copy_of_their_dataset(tiny_toy, tmp_path):
    like = "toy_tiny_cityscapes_sem_seg_val"
    folder = tmp_path / "maps"
    name = register_noisy_label_maps(folder, like=like)  # lazy: before the maps exist
    with pytest.raises(UserInputError, match="does not exist; write the noisy maps first"):
        DatasetCatalog.get(name)
    make_noisy_dataset.main(["--dataset", like, "--output", str(folder), "--noise", "semrelabel100", "--no-progress"])
    assert register_noisy_label_maps(folder, like=like) == name
    records, originals = DatasetCatalog.get(name), DatasetCatalog.get(like)
    assert [r["file_name"] for r in records] == [r["file_name"] for r in originals]
    for record, original in zip(records, originals):
        assert record["sem_seg_file_name"].startswith(str(folder.resolve()))
        noisy, clean = (
            cv2.imread(path, cv2.IMREAD_GRAYSCALE)
            for path in (record["sem_seg_file_name"], original["sem_seg_file_name"])
        )
        assert noisy.shape == clean.shape and (noisy != clean).any()  # every object relabelled
    metadata = MetadataCatalog.get(name)
    assert metadata.copy_of == like and metadata.evaluator_type == "sem_seg" and metadata.ignore_label == 255
    assert metadata.stuff_classes == MetadataCatalog.get(like).stuff_classes and not metadata.get("gt_dir", None)
    with pytest.raises(UserInputError, match="holds noisy maps of"):
        DatasetCatalog.get(register_noisy_label_maps(folder, like="toy_tiny_cityscapes_sem_seg_train"))


# ------------------------------------------------------------------------------------------------- report
def test_the_report_has_one_table_verdicts_and_a_figure(tmp_path):
    truth = np.array([True, False, False, True])
    rows = [
        evidence.score_row("sym40", "class flip", "ours", "self_confidence", truth, [0.1, 0.9, 0.8, 0.2]),
        evidence.flag_row("sym40", "class flip", "ours", "confident_learning", truth, [True, False, True, False]),
        evidence.score_row(
            "sym40", "class flip", "cleanlab", "swap", truth, [0.9, 0.1, np.nan, 0.5], note="cleanlab defaults"
        ),
    ]
    text = evidence.write_report(
        "python benchmarks/label_error_evidence.py",
        {"folds": 2},
        rows,
        {"instance sym40": "1.0 min"},
        tmp_path,
        evidence.verdicts(rows, rounds=50),
    )
    lines = text.splitlines()
    assert lines[0].startswith("| setting | issue type | method | score | n | errors | AUROC | AP | P@10 | P@100")
    assert "| sym40 | class flip | ours | self_confidence | 4 | 2 | 1.000 | 1.000 | - | - |" in lines[2]
    assert "precision 0.500, recall 0.500" in lines[3]
    report = (tmp_path / "evidence.md").read_text()
    assert "ours self_confidence AP 1.000" in report
    assert ": neither ahead beyond the resampling spread (AP gap" in report  # 4 items: the interval spans 0
    assert json.loads((tmp_path / "evidence.json").read_text())["rows"][0]["auroc"] == 1.0
    assert cv2.imread(str(tmp_path / "pr_curves.png")) is not None


def test_a_negative_seed_is_one_line_before_anything_runs(tmp_path):
    message = r"^error: --seed must be >= 0 \(it seeds the noise, <name>_s<seed>\), got -1$"
    with pytest.raises(SystemExit, match=message):
        evidence.main(["--seed", "-1", "--output", str(tmp_path / "evidence")])
    assert not (tmp_path / "evidence").exists()


def test_an_output_that_cannot_be_made_is_one_line(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("mine")
    with pytest.raises(SystemExit, match=f"error: --output {blocker / 'evidence'} cannot be made: {blocker} is a file"):
        evidence.main(["--output", str(blocker / "evidence")])
    assert blocker.read_text() == "mine"


# ------------------------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def tiny_instance_set(tiny_toy):
    """The tiny toy training json, registered as a copy of the built-in set (a fresh tool process knows it)."""
    json_file, image_root = coco_paths(tiny_toy, "train")
    return register_coco_file(
        str(json_file), like="toy_shapes_train", image_root=str(image_root), name="evidence_tiny_train"
    )


@pytest.mark.slow
def test_end_to_end_on_given_checkpoints_then_reused(repo_root, tiny_instance_set, random_weights, tmp_path, capsys):
    output = tmp_path / "evidence"
    flags = [
        "--output",
        str(output),
        "--dataset",
        tiny_instance_set,
        "--instance-noise",
        "coco_n_medium",
        "--instance-weights",
        random_weights(evidence.INSTANCE_CONFIG, "evidence_instance"),
        "--semantic-dataset",
        "toy_tiny_cityscapes_sem_seg_val",
        "--semantic-noise",
        "sembg50",
        "--semantic-weights",
        random_weights(evidence.SEMANTIC_CONFIG, "evidence_semantic"),
        "--no-progress",
        "--bootstrap-rounds",
        "50",
    ]
    overrides = ["train.device=cpu", "dataloader.test.num_workers=0"]
    argv = flags + overrides
    assert evidence.main(argv) == 0
    printed = capsys.readouterr().out
    assert "| coco_n_medium | class flip | cleanlab | swap |" in printed
    assert "| sembg50 | dropped component |" in printed
    for name in (
        "evidence.md",
        "evidence.json",
        "pr_curves.png",
        "run.json",
        "noisy/coco_n_medium.json",
        "instance/coco_n_medium/detections.json",
        "semantic/sembg50/results.json",
        "semantic/sembg50/val_labels/manifest.json",
    ):
        assert (output / name).exists(), name
    rows = json.loads((output / "evidence.json").read_text())["rows"]
    issues = {(row["setting"], row["issue"]) for row in rows}
    assert issues == {("coco_n_medium", "class flip"), ("coco_n_medium", "bad mask"), ("sembg50", "dropped component")}
    scores = json.loads((output / "instance" / "coco_n_medium" / "scores.json").read_text())
    assert all(row["n"] == len(scores) for row in rows if row["setting"] == "coco_n_medium")

    with pytest.raises(SystemExit, match="already holds evidence.md"):  # the report is not replaced unasked
        evidence.main(argv)
    with pytest.raises(SystemExit, match="--bootstrap-rounds must be at least 10, got 3"):
        evidence.main(flags + ["--overwrite", "--bootstrap-rounds", "3"] + overrides)
    with pytest.raises(SystemExit, match=r"holds a run with other settings \(seed; e.g. seed: 0 there, 1 now\)"):
        evidence.main(flags + ["--overwrite", "--seed", "1"] + overrides)
    before = (output / "instance" / "coco_n_medium" / "issues.json").stat().st_mtime_ns
    assert evidence.main(flags + ["--overwrite"] + overrides) == 0  # every step reused
    assert (output / "instance" / "coco_n_medium" / "issues.json").stat().st_mtime_ns == before
    assert "reused" in (output / "evidence.md").read_text()
