"""What every loss promises a training step: non-finite logits give a non-finite loss (so detectron2's finite-loss
check stops the run), a batch with nothing to count gives 0, and nothing in the forward or backward pass reads a
tensor back to the host.

No GPU here, so the host-sync check is a sentinel: the operations that force a device-to-host sync on CUDA
(.item(), .tolist(), bool()/int()/float() of a tensor, nonzero, bincount, unique, masked_select, boolean-mask
indexing) raise while the step runs."""

import pytest
import torch

from detectron2.layers import ShapeSpec
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

from noisy_seg.losses import available_losses, build_loss, loss_spec
from noisy_seg.modeling import NoisyFastRCNNOutputLayers

C = 5
OPTIONS = {
    "sce": {"alpha": 1.0, "beta": 0.1},
    "gce": {"q": 0.7},
    "combination": {"bg_index": C - 1},
    "region_aware": {"num_classes": C},
    "sbce": {"alpha": 1.0, "beta": 0.1},
}
DENSE_ONLY = {"cce", "dice", "ce_dice", "lovasz", "region_aware"}


def _inputs(name, seed=0):
    g = torch.Generator().manual_seed(seed)
    if loss_spec(name).takes_mask_logits:  # per-RoI mask logits and the cropped masks
        targets = torch.zeros(6, 9, 9)
        targets[:, 2:7, 3:8] = 1
        return torch.randn(6, 9, 9, generator=g), targets
    if not loss_spec(name).takes_dense_logits:
        return torch.randn(16, C, generator=g), torch.randint(0, C, (16,), generator=g)
    logits = torch.randn(2, C, 6, 7, generator=g)
    targets = torch.randint(0, C, (2, 6, 7), generator=g)
    targets[0, :2] = 255  # some ignored pixels: every loss ignores 255 unless told otherwise
    return logits, targets


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("name", available_losses())
def test_non_finite_logits_give_a_non_finite_loss(name, value):
    loss_fn = build_loss(name, **OPTIONS.get(name, {}))
    logits, targets = _inputs(name)
    assert torch.isfinite(loss_fn(logits, targets))
    logits = logits.clone()
    logits.view(-1)[3] = value
    assert not torch.isfinite(loss_fn(logits, targets)).all(), f"{name} hides a {value} logit"


def test_the_sentinel_catches_syncs(forbid_host_syncs):
    x = torch.ones(3)
    with forbid_host_syncs(), pytest.raises(AssertionError, match="host sync"):
        x.sum().item()
    with forbid_host_syncs(), pytest.raises(AssertionError, match="boolean-mask"):
        x[x > 0]
    assert x.sum().item() == 3.0  # restored afterwards


@pytest.mark.parametrize("name", available_losses())
def test_a_loss_step_never_syncs(name, forbid_host_syncs):
    loss_fn = build_loss(name, **OPTIONS.get(name, {}))  # option checks happen here, once
    logits, targets = _inputs(name)
    logits.requires_grad_(True)
    with forbid_host_syncs():
        loss_fn(logits, targets).backward()


@pytest.mark.parametrize(
    "name,kwargs", [("combination", {}), ("sce", {"alpha": 1.0, "beta": 0.1}), ("gce", {"q": 0.5})]
)
def test_the_box_predictors_additions_never_sync(name, kwargs, forbid_host_syncs):
    predictor = NoisyFastRCNNOutputLayers(
        input_shape=ShapeSpec(channels=8),
        num_classes=C - 1,
        box2box_transform=Box2BoxTransform((10, 10, 5, 5)),
        cls_loss=name,
        cls_loss_kwargs=kwargs,
    )
    scores = torch.randn(12, C, requires_grad=True)
    proposals = Instances((32, 32))
    proposals.proposal_boxes = Boxes(torch.rand(12, 4) * 10)
    proposals.gt_classes = torch.randint(0, C, (12,))
    proposals.gt_clean_classes = torch.randint(0, C - 1, (12,))
    emptied = proposals[:4]  # an image the noise left without annotations: detectron2 gives it no gt_* field
    emptied.remove("gt_clean_classes")
    emptied.gt_classes = torch.full((4,), C - 1)
    batch = [proposals, emptied]
    gt_classes = torch.cat([p.gt_classes for p in batch])
    scores = torch.cat([scores, torch.randn(4, C)]).detach().requires_grad_(True)
    with EventStorage(1) as storage:  # not a memorization write iteration
        with forbid_host_syncs():
            assert predictor.robust_loss_active()
            predictor.cls_loss(scores, gt_classes).backward()
            predictor._log_memorization(scores.detach(), gt_classes, batch)
        storage.iter = 19  # the writer's iterations (every 20th): one read of the counts accumulated on the device
        predictor._log_memorization(scores.detach(), gt_classes, batch)
        assert "memorization/pred_is_clean_label" in storage.latest()


EMPTY_CASES = [(name, OPTIONS.get(name, {})) for name in available_losses()] + [("lovasz", {"per_image": True})]


def _nothing_to_count(name):
    """Batches with no element to count: no samples (N = 0), maps of no pixel, and every pixel ignored."""
    if loss_spec(name).takes_classification_logits:
        yield torch.zeros(0, C), torch.zeros(0, dtype=torch.long)
    if loss_spec(name).takes_mask_logits:
        yield torch.zeros(0, 9, 9), torch.zeros(0, 9, 9)
    if loss_spec(name).takes_dense_logits:
        yield torch.zeros(0, C, 6, 7), torch.zeros(0, 6, 7, dtype=torch.long)
        yield torch.zeros(2, C, 0, 7), torch.zeros(2, 0, 7, dtype=torch.long)
        yield torch.randn(2, C, 6, 7), torch.full((2, 6, 7), 255)


@pytest.mark.parametrize("name,options", EMPTY_CASES, ids=lambda v: v if isinstance(v, str) else "-".join(v))
def test_a_batch_with_nothing_to_count_gives_zero_with_a_graph(name, options):
    """reduce_loss's convention ("an empty batch gives 0 with a graph"), for every registered loss: a step on an
    image the noise emptied must neither raise nor stop the run on a NaN."""
    loss_fn = build_loss(name, **options)
    for logits, targets in _nothing_to_count(name):
        logits.requires_grad_(True)
        loss = loss_fn(logits, targets)
        assert loss.shape == () and loss.item() == 0.0, (tuple(logits.shape), loss)
        loss.backward()
        assert torch.equal(logits.grad, torch.zeros_like(logits)), tuple(logits.shape)
