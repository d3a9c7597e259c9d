"""noisy_seg.inference, the one home of a trained model over a dataset: the fit checked once (from a built model or
from the config alone), detectron2's test loader with batches and workers giving the same evidence as one image at
a time, and one backbone pass per image for the given boxes and the detections."""

from pathlib import Path

import numpy as np
import pytest
import torch
from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog

from noisy_seg.inference import (
    check_fits,
    configured_classes,
    configured_mask_head,
    mapper_settings,
    predicted_classes,
)
from noisy_seg.modeling.gt_box_inference import predict_on_given_boxes
from noisy_seg.pseudo_labels.evidence_shards import load_shards, save_shard
from noisy_seg.utils.columns import Ragged
from noisy_seg.pseudo_labels.label_issues import collect_instance_evidence, load_instance_dataset
from noisy_seg.utils.errors import UserInputError

INSTANCE_CONFIG = "configs/toy/mask_rcnn_R18_FPN_ce.py"
SEMANTIC_CONFIG = "configs/toy/semantic_R18_FPN_ce.py"


@pytest.fixture(scope="module")
def instance_cfg(repo_root):
    return LazyConfig.load(str(repo_root / INSTANCE_CONFIG))


@pytest.fixture(scope="module")
def instance_model(instance_cfg):
    torch.manual_seed(0)
    return instantiate(instance_cfg.model).eval()


@pytest.mark.parametrize("config", [INSTANCE_CONFIG, SEMANTIC_CONFIG])
def test_the_class_count_read_from_the_config_is_the_built_models(repo_root, config):
    cfg = LazyConfig.load(str(repo_root / config))
    model = instantiate(cfg.model)
    assert configured_classes(cfg) == predicted_classes(model) is not None
    assert configured_mask_head(cfg) == bool(getattr(getattr(model, "roi_heads", None), "mask_on", False))


def test_a_model_of_another_class_count_is_one_error_naming_both():
    check_fits(8, 8, "toy")
    check_fits(None, 8, "toy")  # a model that does not say: nothing to check
    with pytest.raises(UserInputError, match="predicts 5 classes but dataset 'toy' has 8; use the config"):
        check_fits(5, 8, "toy")


def _image(seed, size=(64, 96)):
    image = torch.randint(0, 256, (3, *size), generator=torch.Generator().manual_seed(seed)).float()
    return {"image": image, "height": 128, "width": 192}


def test_detections_of_the_given_box_pass_are_the_models_own(instance_model):
    inputs = [_image(0), _image(1)]
    boxes = [torch.tensor([[2.0, 3.0, 30.0, 40.0]]), torch.zeros(0, 4)]
    ours = predict_on_given_boxes(instance_model, inputs, boxes, detect=True)
    with torch.no_grad():
        theirs = instance_model(inputs)
    for mine, reference in zip(ours, theirs):
        mine, reference = mine["instances"], reference["instances"]
        assert len(reference) > 0 and mine.image_size == reference.image_size == (128, 192)
        torch.testing.assert_close(mine.pred_boxes.tensor, reference.pred_boxes.tensor)
        torch.testing.assert_close(mine.scores, reference.scores)
        assert torch.equal(mine.pred_classes, reference.pred_classes)
        assert torch.equal(mine.pred_masks, reference.pred_masks)
    assert [tuple(o["class_probs"].shape) for o in ours] == [(1, 9), (0, 9)]


def _evidence(model, data, cfg, **options):
    return collect_instance_evidence(
        model, data, detect_score=0.05, keep_masks=True, progress=False, **mapper_settings(cfg), **options
    )


@pytest.mark.slow
def test_batches_and_workers_give_the_evidence_of_one_image_at_a_time_with_one_backbone_pass(
    tiny_toy, instance_cfg, instance_model
):
    data = load_instance_dataset("toy_tiny_train", needs_masks=True)
    calls = []
    hook = instance_model.backbone.register_forward_hook(lambda module, args, output: calls.append(len(args[0])))
    try:
        single = _evidence(instance_model, data, instance_cfg)
    finally:
        hook.remove()
    assert sum(calls) == len(data.records) and set(calls) == {1}  # one backbone pass per image, given boxes + detect
    assert single.num_rows > 0 and len(np.unique(single.detections["image_id"])) > 1
    batched = _evidence(instance_model, data, instance_cfg, batch_size=3, num_workers=1)
    assert_same_evidence(batched, single, atol=1e-4)  # a batched convolution sums in another order


def assert_same_evidence(mine, reference, atol: float) -> None:
    """Ids, classes and order exactly; probabilities, IoUs, boxes and scores to `atol`; the same columns."""
    for table in ("images", "rows", "skipped", "detections"):
        ours, theirs = mine.table(table), reference.table(table)
        assert set(ours) == set(theirs), table
        for name, values in theirs.items():
            if isinstance(values, Ragged):
                continue  # masks: binarized, a pixel may flip within atol
            values, other = np.asarray(values), np.asarray(ours[name])
            assert other.shape == values.shape and other.dtype == values.dtype, (table, name)
            if np.issubdtype(values.dtype, np.floating):
                np.testing.assert_allclose(other, values, rtol=atol, atol=atol, err_msg=f"{table}.{name}")
            else:
                np.testing.assert_array_equal(other, values, err_msg=f"{table}.{name}")
    assert mine.detected == reference.detected


def _distributed_evidence(config_file: str, weights: str, output: str, toy_root: str, threads: int):
    """One of 2 processes: the toy set's evidence with the given weights, written by the first process. `threads`:
    the test process's torch threads (other kernels sum in another order: boxes would differ in the 5th digit)."""
    from detectron2.utils import comm

    torch.set_num_threads(threads)

    from noisy_seg.data.datasets.builtin import register_toy_datasets
    from noisy_seg.inference import build_model

    cfg = LazyConfig.load(config_file)
    cfg.train.device = "cpu"
    if "toy_tiny_train" not in DatasetCatalog.list():  # spawned processes start fresh
        register_toy_datasets(toy_root, prefix="toy_tiny", num_train=16, num_val=4, image_size=96)
    data = load_instance_dataset("toy_tiny_train", needs_masks=True)
    evidence = _evidence(build_model(cfg, weights), data, cfg, batch_size=2)
    if comm.is_main_process():
        save_shard(Path(output), "shard-000000", evidence, {"fingerprint": "test"})


@pytest.mark.slow
def test_two_processes_give_the_evidence_of_one(tiny_toy, repo_root, random_weights, tmp_path):
    """Under detectron2's launch (2 gloo processes) each scores its half of the images; the evidence is the one
    process's, row for row."""

    from noisy_seg.engine.ddp import launch_processes

    from noisy_seg.inference import build_model

    config_file = str(repo_root / INSTANCE_CONFIG)
    weights = random_weights(INSTANCE_CONFIG, "inference_two_processes")
    output = tmp_path / "evidence"
    output.mkdir()
    launch_processes(
        _distributed_evidence,
        2,
        dist_url="auto",
        args=(config_file, weights, str(output), str(tiny_toy), torch.get_num_threads()),
    )
    (distributed,) = load_shards(output, "test")  # written by the first process, memory-mapped
    cfg = LazyConfig.load(config_file)
    cfg.train.device = "cpu"
    data = load_instance_dataset("toy_tiny_train", needs_masks=True)
    single = _evidence(build_model(cfg, weights), data, cfg, batch_size=2)
    assert_same_evidence(distributed, single, atol=1e-5)


def _distributed_correction(config_file: str, weights: str, output: str, toy_root: str, threads: int):
    """One of 2 processes: label correction of the tiny toy train set (relabel and mask flags) into `output`, with
    the test process's torch threads (see _distributed_evidence)."""
    torch.set_num_threads(threads)
    from noisy_seg.data.datasets.builtin import register_toy_datasets
    from noisy_seg.inference import build_model
    from noisy_seg.pseudo_labels.instance import correct_instance_labels

    cfg = LazyConfig.load(config_file)
    cfg.train.device = "cpu"
    if "toy_tiny_train" not in DatasetCatalog.list():  # spawned processes start fresh
        register_toy_datasets(toy_root, prefix="toy_tiny", num_train=16, num_val=4, image_size=96)
    model = build_model(cfg, weights)
    options = dict(relabel_threshold=0.2, mask_iou_threshold=0.5, progress=False, batch_size=2)
    correct_instance_labels(model, "toy_tiny_train", output, **options, **mapper_settings(cfg))


@pytest.mark.slow
def test_label_correction_in_two_processes_writes_what_one_writes(tiny_toy, repo_root, random_weights, tmp_path):
    import json

    from noisy_seg.engine.ddp import launch_processes

    config_file = str(repo_root / INSTANCE_CONFIG)
    weights = random_weights(INSTANCE_CONFIG, "correction_two_processes")
    launch_processes(
        _distributed_correction,
        2,
        dist_url="auto",
        args=(config_file, weights, str(tmp_path / "two"), str(tiny_toy), torch.get_num_threads()),
    )
    _distributed_correction(config_file, weights, str(tmp_path / "one"), str(tiny_toy), torch.get_num_threads())
    assert (tmp_path / "two" / "corrected.json").read_bytes() == (tmp_path / "one" / "corrected.json").read_bytes()
    one, two = (json.loads((tmp_path / name / "corrections.json").read_text()) for name in ("one", "two"))
    assert two["summary"] == one["summary"] and two["skipped"] == one["skipped"]
    assert [row["index"] for row in two["annotations"]] == [row["index"] for row in one["annotations"]]
    assert not (tmp_path / "two" / "progress").exists()  # the chunks of both processes are cleaned up
