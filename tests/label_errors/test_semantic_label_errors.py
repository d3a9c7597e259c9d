"""Label errors in semantic segmentation (noisy_seg.label_errors.semantic; Rottmann & Reese, seed 002): heatmaps,
component metrics and IoU_adj against hand computations, the benchmark protocol's decisions and PR-AUC on hand-made
examples with known answers, the meta classifier, the cleanlab peer adapter, and
tools/find_semantic_label_errors.py end to end with the toy Semantic FPN (random init) and its bad inputs."""

import copy
import json
import math
import shutil

import numpy as np
import pytest

from detectron2.data import DatasetCatalog, MetadataCatalog

from noisy_seg.cli import find_semantic_label_errors as tool
from noisy_seg.label_errors.semantic import (
    THRESHOLDS,
    adjusted_iou,
    benchmark_counts,
    cleanlab_proposals,
    component_metrics,
    connected_components,
    drop_components,
    error_regions,
    feature_names,
    find_proposals,
    fit_meta_classifier,
    heatmaps,
    image_proposals,
    pr_curve,
    score_images,
    split_images,
)
from noisy_seg.label_errors.semantic.rank import score_table
from noisy_seg.label_errors.semantic.summary import injected_noise_found
from noisy_seg.label_errors.semantic.table import (
    ComponentTable,
    load_component_shards,
    merge_tables,
    save_component_shard,
)
from noisy_seg.utils.columns import load_tables
from noisy_seg.utils.errors import UserInputError
from noisy_seg.utils.files import load_json

CONFIG = "configs/toy/semantic_R18_FPN_ce.py"
VAL = "toy_tiny_cityscapes_sem_seg_val"


def probs_from(label_map, confidence, num_classes):
    """A (K, H, W) softmax: `confidence` (a number or an (H, W) map) on each pixel's class, the rest shared."""
    label_map = np.asarray(label_map)
    confidence = np.broadcast_to(np.asarray(confidence, np.float64), label_map.shape)
    probs = np.repeat(((1 - confidence) / (num_classes - 1))[None], num_classes, axis=0)
    np.put_along_axis(probs, label_map[None], confidence[None], axis=0)
    return probs.astype(np.float32)


# ---- heatmaps, components, IoU_adj --------------------------------------------------------------------------------


def test_heatmaps_by_hand():
    p = np.array([[0.5, 0.3, 0.2], [1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0], [0.1, 0.6, 0.3]], np.float32)
    entropy, margin, variation = heatmaps(p.T.reshape(3, 2, 2))
    for pixel, (e, d, v) in enumerate(zip(entropy.ravel(), margin.ravel(), variation.ravel())):
        q = np.sort(p[pixel])[::-1]
        assert e == pytest.approx(-sum(x * math.log(x) for x in q if x > 0) / math.log(3), abs=1e-6)
        assert d == pytest.approx(1 - q[0] + q[1], abs=1e-6) and v == pytest.approx(1 - q[0], abs=1e-6)
    assert entropy.ravel()[1] == pytest.approx(1.0) and entropy.ravel()[2] == pytest.approx(0.0, abs=1e-6)
    assert margin.ravel()[0] == pytest.approx(0.8) and variation.ravel()[3] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="K >= 2"):
        heatmaps(np.ones((1, 2, 2), np.float32))


def test_connected_components_are_8_connected_per_class_and_skip_the_ignore_label():
    components, classes = connected_components(np.array([[1, 0, 255], [0, 1, 255]]), 2)
    assert classes.tolist() == [0, 1]  # the diagonal pairs are one component each; 255 is none
    assert components.tolist() == [[2, 1, 0], [1, 2, 0]]


# a 5x9 map: background 0 around two 3x3 blocks of class 1
BLOCKS = np.zeros((5, 9), np.int64)
BLOCKS[1:4, 1:4] = 1
BLOCKS[1:4, 5:8] = 1


def blocks_probs():
    confidence = np.where(BLOCKS == 1, 0.8, 0.7)
    confidence[2, 2] = 0.9  # the centre of the first block
    return probs_from(BLOCKS, confidence, 2)


def test_component_metrics_by_hand():
    image = component_metrics(blocks_probs(), BLOCKS)
    names = feature_names(2)
    assert len(names) == image.features.shape[1] == 5 + 30 + 2 + 4
    f = {name: image.features[:, k] for k, name in enumerate(names)}
    assert image.classes.tolist() == [0, 1, 1]
    assert f["S"].tolist() == [27, 9, 9] and f["S_in"].tolist() == [0, 1, 1] and f["S_bd"].tolist() == [27, 8, 8]
    assert f["S_rel"][1] == 9 / 8 and f["S_rel_in"][1] == 1 / 8 and image.scorable.tolist() == [False, True, True]
    # variation ratio V = 1 - p(1): 0.2 on the first block's boundary, 0.1 at its centre
    assert f["V"][1] == pytest.approx(1.7 / 9) and f["V_in"][1] == pytest.approx(0.1)
    assert f["V_bd"][1] == pytest.approx(0.2) and f["V_var_bd"][1] == pytest.approx(0, abs=1e-9)
    assert f["V_var"][1] == pytest.approx(0.33 / 9 - (1.7 / 9) ** 2)
    assert f["V_rel"][1] == pytest.approx(1.7 / 9 * 9 / 8) and f["V_rel_in"][1] == pytest.approx(0.1 / 8)
    assert f["D"][2] == pytest.approx(1 - 0.8 + 0.2) and f["D_in"][2] == pytest.approx(0.4)
    assert f["E"][0] == pytest.approx(-(0.7 * math.log(0.7) + 0.3 * math.log(0.3)) / math.log(2))
    assert f["E_in"][0] == 0 and f["E_var_in"][0] == 0  # no inner pixel: 0, as the seed
    assert (f["centroid_row"][1], f["centroid_col"][1], f["centroid_row"][2], f["centroid_col"][2]) == (2, 2, 2, 6)
    assert f["cprob1"][1] == pytest.approx((8 * 0.8 + 0.9) / 9) and f["cprob0"][0] == pytest.approx(0.7)
    # each block pixel's 8-neighbours of the other class: 4 corners x 5 + 4 edges x 3, all background
    assert f["ndist0"][1] == 1 and f["ndist1"][1] == 0 and f["ndist1"][0] == 1
    assert image.boxes.tolist() == [[0, 0, 9, 5], [1, 1, 4, 4], [5, 1, 8, 4]]
    assert image.iou_adj.tolist() == [1, 1, 1] and image.masks == {}


def test_a_component_filling_the_image_has_no_boundary_and_divides_by_one():
    image = component_metrics(probs_from(np.zeros((3, 4), np.int64), 0.6, 3), None)
    f = dict(zip(feature_names(3), image.features[0]))
    assert (f["S"], f["S_in"], f["S_bd"], f["S_rel"]) == (12, 12, 0, 12) and image.iou_adj is None
    assert f["V_bd"] == 0 and f["ndist1"] == 0 and f["V"] == pytest.approx(0.4)


@pytest.mark.parametrize(
    "predicted, given, expected",
    [
        # strips: class-0 components {3,4} and {8,9}, class-1 components {0,1,2} and {5,6,7}; the given class-1 segment
        # 0..7 meets both class-1 components, so each one's union leaves out the other: 3 / 5 (plain IoU: 3 / 8)
        ([1, 1, 1, 0, 0, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 0, 1], [0, 1 / 2, 3 / 5, 3 / 5]),
        ([1, 1, 1], [255, 1, 1], [2 / 3]),  # the ignore label is no class
        ([1, 1, 1], [0, 0, 0], [0]),  # a false positive w.r.t. the label
        ([0, 1, 1, 0], [0, 1, 1, 0], [1, 1, 1]),
    ],
)
def test_adjusted_iou_by_hand(predicted, given, expected):
    assert adjusted_iou(np.array([predicted]), np.array([given]), 2) == pytest.approx(expected)


def test_candidates_keep_their_masks():
    given = BLOCKS.copy()
    given[1:4, 5:8] = 0  # the second block is not in the label
    image = component_metrics(blocks_probs(), given, min_size=9)
    assert image.iou_adj.tolist() == [pytest.approx(27 / 36), 1, 0]
    assert list(image.masks) == [2] and image.masks[2].shape == (3, 3) and image.masks[2].all()
    assert component_metrics(blocks_probs(), given, min_size=10).masks == {}  # too small to propose


# ---- the benchmark -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inside, outside, found",
    [
        (4, 0, False),  # 80 of the region's 400 px: IoU_adj 0.2 both ways
        (6, 0, True),  # 120 px: 0.3
        (10, 10, True),  # 200 px in, 200 px beside it: 200 / (400 + 200) both ways
        (6, 20, False),  # 120 px in, 400 px beside it: 120 / (400 + 400), and 120 / (520 + 280)
    ],
)
def test_a_region_is_found_with_iou_adj_of_at_least_a_quarter(inside, outside, found):
    """Region: 20 x 20 px of class 1 (columns 0..19); proposal: its last `inside` columns and `outside` columns
    beside it."""
    regions = np.zeros((20, 60), np.int32)
    regions[:, :20] = 1
    proposals = np.zeros_like(regions)
    proposals[:, 20 - inside : 20 + outside] = 1
    tp, fp, fn = benchmark_counts(regions, [1], proposals, [1], [0.5], min_size=1)
    assert (tp[0], fn[0], fp[0]) == ((1, 0, 0) if found else (0, 1, 1))
    assert (tp[-1], fn[-1], fp[-1]) == (0, 1, 0)  # at threshold 1 no proposal is active
    tp, fp, fn = benchmark_counts(regions, [1], proposals, [2], [0.5], min_size=1)
    assert (tp[0], fn[0], fp[0]) == (0, 1, 1)  # a proposal of another class finds nothing


def test_benchmark_counts_and_pr_auc_on_a_known_example():
    clean = np.zeros((60, 100), np.int64)
    clean[0:20, 0:20] = 1  # A: found by P1
    clean[30:50, 0:20] = 2  # B: P2 covers 20% of it
    clean[0:10, 40:50] = 1  # under 250 px: not a region
    given = np.zeros_like(clean)
    regions, region_classes = error_regions(clean, given, 3)
    assert region_classes.tolist() == [1, 2] and np.bincount(regions.ravel()).tolist()[1:] == [400, 400]
    proposals = np.zeros_like(clean, np.int32)
    proposals[0:20, 0:20] = 1  # P1, class 1, score 0.92
    proposals[30:50, 0:4] = 2  # P2, class 2, 0.62: 80 px, too small to count, so made larger outside B
    proposals[50:60, 0:20] = 2
    proposals[0:20, 60:80] = 3  # P3, class 1, 0.32: no region
    proposals[55:60, 90:100] = 4  # P4: 50 px, under 250: never counted
    tp, fp, fn = benchmark_counts(regions, region_classes, proposals, [1, 2, 1, 1], [0.92, 0.62, 0.32, 0.99])
    # thresholds 0..0.3: P1-P3 active; 0.35..0.6: P1, P2; 0.65..0.9: P1; 0.95, 1: none
    assert tp.tolist() == [1] * 19 + [0] * 2 and fn.tolist() == [1] * 19 + [2] * 2
    assert fp.tolist() == [2] * 7 + [1] * 6 + [0] * 8
    curve = pr_curve(tp, fp, fn)
    assert curve["precision"][0] == pytest.approx(1 / 3) and curve["precision"][7] == 0.5
    assert curve["precision"][13] == 1 and curve["recall"][:19] == [0.5] * 19 and curve["recall"][19:] == [0, 0]
    assert curve["f1"][13] == pytest.approx(2 / 3)
    # the seed's auc.py: points (0, 0) and (0.5, 1) (the highest threshold's precision at recall 0.5), then (1, 1)
    assert curve["pr_auc"] == pytest.approx(0.5 * 0.5 + 0.5 * 1.0)
    # classes restrict both sides: class 1 only leaves A (found) and P3 (a false positive below 0.35)
    tp, fp, fn = benchmark_counts(
        regions, region_classes, proposals, [1, 2, 1, 1], [0.92, 0.62, 0.32, 0.99], classes=[1]
    )
    assert tp[0] == 1 and fn[0] == 0 and fp[0] == 1 and fp[7] == 0
    assert len(THRESHOLDS) == 21


def test_drop_components_and_error_regions():
    clean = np.zeros((30, 30), np.int64)
    clean[0:20, 0:20] = 1
    clean[22:30, 22:30] = 2
    rng = np.random.default_rng(0)
    assert np.array_equal(drop_components(clean, 3, 0.0, rng), clean)
    dropped = drop_components(clean, 3, 1.0, rng, classes=[1], fill=255)
    assert (dropped[0:20, 0:20] == 255).all() and np.array_equal(dropped[20:], clean[20:])
    regions, classes = error_regions(clean, dropped, 3)
    assert classes.tolist() == [1] and (regions > 0).sum() == 400
    assert error_regions(clean, dropped, 3, min_size=401)[1].tolist() == []
    with pytest.raises(ValueError, match="fraction"):
        drop_components(clean, 3, 1.5, rng)


# ---- meta classifier, scoring, proposals --------------------------------------------------------------------------


def test_meta_classifier_learns_and_falls_back_to_the_rate():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3))
    true_positive = features[:, 0] + 0.1 * rng.normal(size=200) > 0
    for solver in ("saga", "liblinear"):
        model = fit_meta_classifier(features, true_positive, solver=solver)
        assert np.mean((model.predict_proba(features)[:, 1] > 0.5) == true_positive) > 0.9
    constant = fit_meta_classifier(features[:5], np.array([True, True, True, True, False]))
    assert constant.predict_proba(features[:2])[:, 1] == pytest.approx([0.8, 0.8])
    with pytest.raises(ValueError, match="solver"):
        fit_meta_classifier(features, true_positive, solver="lbfgs")


def scene(index, dropped):
    """A 40 x 40 image: background 0, a confident object of class 1, a faint uncertain blob of class 2 that the label
    does not have (a model error); the object dropped from the label when `dropped`."""
    rng = np.random.default_rng(index)
    clean = np.zeros((40, 40), np.int64)
    top, left = rng.integers(2, 12, size=2)
    clean[top : top + 17, left : left + 17] = 1  # 289 px: a benchmark region
    predicted = clean.copy()
    predicted[30:38, 30:38] = 2
    confidence = np.where(predicted == 2, 0.4, 0.9) + 0.05 * rng.random((40, 40))
    given = clean.copy()
    if dropped:
        given[clean == 1] = 0
    return probs_from(predicted, confidence, 3), clean, given


def test_score_images_split_and_proposals():
    scenes = [scene(i, dropped=i % 3 == 0) for i in range(8)]
    images = [component_metrics(probs, given, min_size=20) for probs, _, given in scenes]
    train, search = split_images(8, seed=1)
    assert sorted(train.tolist() + search.tolist()) == list(range(8)) and len(search) == 4
    scores, info = score_images(images, seed=1)
    assert info["train_images"] == train.tolist() and info["search_images"] == search.tolist()
    for i, score in enumerate(scores):
        assert np.isnan(score).all() == (i in train)
        assert np.isnan(score[~images[i].scorable]).all()
    both, info = score_images(images, seed=1, both_halves=True, solver="liblinear")
    assert len(info["classifiers"]) == 2 and all(np.isfinite(s[im.scorable]).all() for s, im in zip(both, images))
    proposals = find_proposals(images, both, classes=[1, 2], min_size=20)
    assert [p["score"] for p in proposals] == sorted((p["score"] for p in proposals), reverse=True)
    for p in proposals:
        assert images[p["image"]].iou_adj[p["component"]] == 0 and p["area"] >= 20
    dropped_objects = [(p["image"], p["class"]) for p in proposals if p["class"] == 1]
    assert sorted(dropped_objects) == [(0, 1), (3, 1), (6, 1)]  # the dropped objects (and the model's blobs)
    assert [p["class"] for p in find_proposals(images, both, classes=[2], min_size=20, top=2)] == [2, 2]
    assert [p["class"] for p in find_proposals(images, both)] == [1, 1, 1]  # the blobs are under 100 px
    assert dropped_objects == [(p["image"], p["class"]) for p in proposals[:3]]  # ranked above the blobs
    # the benchmark on one image: the dropped object is found by our proposal
    regions, region_classes = error_regions(scenes[0][1], scenes[0][2], 3)
    tp, fp, fn = benchmark_counts(regions, region_classes, *image_proposals(images[0], both[0]), classes=[1])
    assert tp[0] == 1 and fn[0] == 0 and fp[0] == 0
    with pytest.raises(ValueError, match="at least 2 images"):
        score_images(images[:1])


def test_cleanlab_adapter_on_a_tiny_example():
    clean = np.zeros((2, 40, 40), np.int64)
    clean[:, 5:25, 5:25] = 1
    clean[1, 28:38, 28:38] = 2
    given = clean.copy()
    given[0, 5:25, 5:25] = 0  # dropped in the first image
    probs = np.stack([probs_from(c, 0.95, 3) for c in clean])
    proposals, image_scores = cleanlab_proposals(given, probs)
    (first, first_classes, first_scores), (second, second_classes, _) = proposals
    assert first_classes.tolist() == [1] and first_scores == pytest.approx([1 - 0.025])
    assert np.array_equal(first > 0, clean[0] == 1) and second_classes.tolist() == [] and not second.any()
    assert image_scores[0] < image_scores[1]
    regions, region_classes = error_regions(clean[0], given[0], 3)
    tp, fp, fn = benchmark_counts(regions, region_classes, first, first_classes, first_scores)
    assert (tp[0], fp[0], fn[0]) == (1, 0, 0)
    with pytest.raises(ValueError, match="every label in"):
        cleanlab_proposals(np.where(given == 0, 255, given), probs)
    with pytest.raises(ValueError, match="same N, H, W"):
        cleanlab_proposals(given[:1], probs)


# ---- the tool ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoints(random_weights):
    """The toy semantic model's random-init weights, and the same model's with 8 classes. Seed 2: a random model whose
    components the meta classifier does not all get right, so there are proposals to check (seed 0's model is wrong
    everywhere, its meta classifier 100% accurate, and nothing is proposed)."""
    return {
        "toy": random_weights(CONFIG, "semantic_toy", seed=2),
        "eight_classes": random_weights(CONFIG, "semantic_eight_classes", **{"sem_seg_head.num_classes": 8}),
    }


def run(repo_root, weights, output, *extra, dataset=VAL):
    return tool.main(
        [
            "--config-file",
            str(repo_root / CONFIG),
            "--weights",
            weights,
            "--dataset",
            dataset,
            "--output",
            str(output),
            "--no-progress",
            *map(str, extra),
            "train.device=cpu",
        ]
    )


@pytest.mark.slow
def test_tool_end_to_end(repo_root, tiny_toy, checkpoints, tmp_path, capsys, monkeypatch):
    from noisy_seg.pseudo_labels import semantic_evidence

    monkeypatch.setattr(semantic_evidence, "IMAGES_PER_SHARD", 3)
    output = tmp_path / "found"
    assert run(repo_root, checkpoints["toy"], output, "--top", 3, "--min-size", 5, "--both-halves") == 0
    assert "label-error proposals in 4 searched images" in capsys.readouterr().out
    report = load_json(output / "proposals.json")
    assert report["images"] == 4 and report["settings"]["both_halves"] and len(report["settings"]["classes"]) == 19
    assert len(report["meta_classifier"]["classifiers"]) == 2
    proposals = report["proposals"]
    assert 1 <= len(proposals) <= 3 and [p["rank"] for p in proposals] == list(range(1, len(proposals) + 1))
    records = {r["file_name"]: r for r in DatasetCatalog.get(VAL)}
    for p in proposals:
        x0, y0, x1, y1 = p["bbox"]
        record = records[p["file_name"]]
        assert 0 <= x0 < x1 <= record["width"] and 0 <= y0 < y1 <= record["height"]
        assert (
            p["area"] >= 5
            and 0 < p["score"] <= 1
            and p["class"] == MetadataCatalog.get(VAL).stuff_classes[p["class_id"]]
        )
    drawn = sorted(path.name for path in (output / "proposals").iterdir())
    assert len(drawn) == len(proposals) and drawn[0].startswith("001_")
    # the components are kept in columnar shards; a run killed before its last shard scores only that shard's images
    shards = sorted((output / "components").iterdir())  # 4 images: shards of 3 and 1
    tables = [load_tables(shard)[0] for shard in shards]
    assert [t["images"]["index"].tolist() for t in tables] == [[0, 1, 2], [3]]
    assert sum(len(t["rows"]["features"]) for t in tables) == report["components"]
    finished = (output / "proposals.json").read_bytes()
    record = load_json(output / "run.json")
    (output / "run.json").write_text(json.dumps({**record, "finished": False}))
    (output / "proposals.json").unlink()
    shutil.rmtree(shards[-1])
    with pytest.raises(SystemExit, match="--resume"):
        run(repo_root, checkpoints["toy"], output, "--top", 3, "--min-size", 5, "--both-halves")
    scored = []
    real_softmax = semantic_evidence.predict_softmax
    monkeypatch.setattr(
        semantic_evidence,
        "predict_softmax",
        lambda model, records, **options: scored.extend(records) or real_softmax(model, records, **options),
    )
    assert run(repo_root, checkpoints["toy"], output, "--top", 3, "--min-size", 5, "--both-halves", "--resume") == 0
    assert len(scored) == 1 and (output / "proposals.json").read_bytes() == finished
    # --classes restricts the search (its key=value neighbours stay config overrides)
    first = proposals[0]["class"]
    assert (
        run(
            repo_root,
            checkpoints["toy"],
            tmp_path / "one_class",
            "--min-size",
            5,
            "--both-halves",
            "--solver",
            "liblinear",
            "--classes",
            first,
        )
        == 0
    )
    report = load_json(tmp_path / "one_class" / "proposals.json")
    assert report["settings"]["classes"] == [first] and report["settings"]["solver"] == "liblinear"
    assert {p["class"] for p in report["proposals"]} == {first}


def test_a_component_table_is_the_images_in_any_split_and_scores_as_the_lists():
    rng = np.random.default_rng(3)
    images = []
    for i in range(6):
        given = BLOCKS.copy()
        given[1:4, 5:8] = 0  # the second block is not in the label: a candidate with its mask
        probs = blocks_probs() + rng.uniform(0, 0.2, size=blocks_probs().shape)
        images.append(component_metrics(probs / probs.sum(0), given, min_size=9))
    table = ComponentTable.of(images)
    halves = merge_tables([ComponentTable.of(images[3:], [3, 4, 5]), ComponentTable.of(images[:3])])
    for name, column in table.rows.items():
        np.testing.assert_array_equal(halves.rows[name], column)
    for position, image in enumerate(images):
        start, stop = table.row_range(position)
        assert stop - start == len(image.classes)
        for component, mask in image.masks.items():
            np.testing.assert_array_equal(table.mask(start + component), mask)
            np.testing.assert_array_equal(halves.mask(start + component), mask)
    scores, info = score_images(images, seed=1, both_halves=True)
    flat, table_info = score_table(table, seed=1, both_halves=True)
    np.testing.assert_array_equal(np.concatenate(scores), flat)
    assert info == table_info
    sampled, sampled_info = score_table(table, seed=1, max_fit_rows=4, batch_rows=2)
    assert [fit["train_components"] for fit in sampled_info["classifiers"]] == [4]
    training = int(table.scorable[np.isin(table.image_positions, info["train_images"])].sum())
    assert sampled_info["classifiers"][0]["sampled_from"] == training > 4
    searched = np.isin(table.image_positions, info["search_images"])
    assert np.isfinite(sampled[searched & table.scorable]).all() and np.isnan(sampled[~searched]).all()


def test_component_shards_are_whole_and_belong_to_their_run(tmp_path):
    table = ComponentTable.of([component_metrics(blocks_probs(), BLOCKS)])
    save_component_shard(tmp_path, "shard-000000", table, {"fingerprint": "run a"})
    (loaded,) = load_component_shards(tmp_path, "run a")
    np.testing.assert_array_equal(loaded.rows["features"], table.rows["features"])
    with pytest.raises(UserInputError, match="shard-000000 was written by another run or with other settings"):
        load_component_shards(tmp_path, "run b")


def error_of(*args, **kwargs) -> str:
    with pytest.raises(SystemExit) as exit_info:
        run(*args, **kwargs)
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "\n" not in message, message
    return message


def test_tool_bad_inputs(repo_root, tiny_toy, checkpoints, tmp_path):
    out = tmp_path / "out"
    assert "dataset 'toy_tiny_no_such_set' is not registered" in error_of(
        repo_root, checkpoints["toy"], out, dataset="toy_tiny_no_such_set"
    )
    assert "do not fit the model of the config" in error_of(repo_root, checkpoints["eight_classes"], out)
    assert "--top and --min-size must be at least 1, got 0" in error_of(repo_root, checkpoints["toy"], out, "--top", 0)
    assert "--classes: 'dragon' is neither a class name nor a train id" in error_of(
        repo_root, checkpoints["toy"], out, "--classes", "car", "dragon"
    )
    assert "--weights nope.pth not found" in error_of(repo_root, "nope.pth", out)
    assert not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert "already holds files (notes.txt)" in error_of(repo_root, checkpoints["toy"], out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"
    records = DatasetCatalog.get(VAL)
    unlabelled = [{k: v for k, v in r.items() if k != "sem_seg_file_name"} for r in records]
    for name, rows in (("toy_tiny_sem_unlabelled", unlabelled), ("toy_tiny_sem_one", copy.deepcopy(records[:1]))):
        DatasetCatalog.register(name, lambda rows=rows: rows)
        MetadataCatalog.get(name).set(stuff_classes=list(MetadataCatalog.get(VAL).stuff_classes), ignore_label=255)
    assert "4 of 4 images have no label map" in error_of(
        repo_root, checkpoints["toy"], tmp_path / "new", dataset="toy_tiny_sem_unlabelled"
    )
    assert "has 1 image(s); the meta classifier needs at least 2" in error_of(
        repo_root, checkpoints["toy"], tmp_path / "new", dataset="toy_tiny_sem_one"
    )
    assert not (tmp_path / "new").exists()


def test_proposals_against_injected_components():
    injected = {
        "a": [{"op": "background", "box": [0, 0, 10, 10]}, {"op": "dilate", "box": [50, 50, 10, 10]}],
        "b": [{"op": "relabel", "box": [20, 20, 10, 10]}],
    }
    proposals = [
        {"image_id": "a", "bbox": [1, 0, 11, 10]},  # IoU 9/11 with a's first: found
        {"image_id": "a", "bbox": [30, 30, 40, 40]},  # nothing there
        {"image_id": "c", "bbox": [0, 0, 10, 10]},  # an image without injected noise
    ]
    found = injected_noise_found(proposals, injected)
    assert (found["proposals"], found["true_positives"], found["components"], found["found"]) == (3, 1, 3, 1)
    assert found["precision"] == pytest.approx(1 / 3) and found["recall"] == pytest.approx(1 / 3)
    assert found["by_op"] == {
        "background": {"components": 1, "found": 1, "recall": 1.0},
        "dilate": {"components": 1, "found": 0, "recall": 0.0},
        "relabel": {"components": 1, "found": 0, "recall": 0.0},
    }
    assert injected_noise_found([], {})["precision"] is None


@pytest.mark.slow
def test_the_tool_scores_its_proposals_against_the_manifests_components(
    repo_root, tiny_toy, checkpoints, tmp_path, capsys
):
    """Issue 25: the noisy-label-map manifest records which components changed and how, so the semantic tool
    reports precision / recall against injected noise as the instance tool does."""
    from noisy_seg.cli import make_noisy_dataset
    from noisy_seg.data.datasets.noisy_label_maps import register_noisy_label_maps

    maps = tmp_path / "sem50"
    assert make_noisy_dataset.main(["--dataset", VAL, "--noise", "sem50", "--output", str(maps), "--no-progress"]) == 0
    manifest = load_json(maps / "manifest.json")
    assert manifest["changed_components"] == sum(len(f["components"]) for f in manifest["files"]) > 0
    assert sum(manifest["changed_components_by_op"].values()) == manifest["changed_components"]
    assert "components changed:" in capsys.readouterr().out
    name = register_noisy_label_maps(str(maps), like=VAL)
    output = tmp_path / "found"
    assert run(repo_root, checkpoints["toy"], output, "--top", 5, "--min-size", 5, "--both-halves", dataset=name) == 0
    assert "against the injected noise: precision" in capsys.readouterr().out
    found = load_json(output / "proposals.json")["injected_noise"]
    assert found["components"] == manifest["changed_components"]  # both halves: every image searched
    assert found["proposals"] == len(load_json(output / "proposals.json")["proposals"])
    assert 0 <= found["true_positives"] <= found["proposals"] and 0 <= found["found"] <= found["components"]
