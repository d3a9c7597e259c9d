"""The combination loss (Yang et al. 2020): group assignment, PON filter, weights and its CE limit."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from noisy_seg.losses import LossModule, build_loss, combination_loss, foreground_instance_mask, symmetric_cross_entropy

BG = 3  # 3 foreground classes + background as the last index, as in detectron2
A = -math.log(1e-4)


def hand_batch():
    """Rows: bg-labelled RoI (pred fg 0), fg RoI predicted bg, fg RoI predicted another fg, fg RoI predicted
    its own class."""
    logits = torch.tensor(
        [
            [2.0, 0.1, 0.3, 0.5],  # y = bg, pred = 0      -> CE
            [0.2, 0.1, 0.3, 3.0],  # y = 1,  pred = bg     -> CE
            [0.1, 0.4, 4.0, 0.2],  # y = 0,  pred = 2      -> RCE (noisy-looking)
            [0.3, 2.5, 0.1, 0.4],  # y = 1,  pred = 1      -> RCE
        ],
        dtype=torch.float64,
    )
    targets = torch.tensor([BG, 1, 0, 1])
    return logits, targets


def loop_reference(logits, targets, bg, ce_weight, rce_weight, pon_threshold):
    """Plain per-RoI Python, straight from methods.md section 1."""
    total = 0.0
    for z, y in zip(logits.tolist(), targets.tolist()):
        m = max(z)
        log_norm = m + math.log(sum(math.exp(v - m) for v in z))
        ce = log_norm - z[y]
        pred = z.index(m)
        if y == bg or pred == bg:
            total += ce_weight * ce
        elif pon_threshold is None or ce <= pon_threshold:
            total += rce_weight * A * (1 - math.exp(-ce))
    return total / len(targets)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 12),
    c=st.integers(2, 6),
    ce_weight=st.floats(0, 3),
    rce_weight=st.floats(0, 3),
    pon=st.one_of(st.none(), st.floats(0.5, 8)),
)
def test_matches_loop_reference_on_random_batches(seed, n, c, ce_weight, rce_weight, pon):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=torch.float64) * 3
    targets = torch.randint(0, c, (n,), generator=g)
    bg = c - 1
    got = combination_loss(logits, targets, bg_index=bg, ce_weight=ce_weight, rce_weight=rce_weight, pon_threshold=pon)
    expected = loop_reference(logits, targets, bg, ce_weight, rce_weight, pon)
    assert got.item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_group_assignment_on_hand_batch():
    logits, targets = hand_batch()
    assert foreground_instance_mask(logits, targets, BG).tolist() == [False, False, True, True]
    ce = F.cross_entropy(logits, targets, reduction="none")
    p_y = F.softmax(logits, 1).gather(1, targets[:, None]).squeeze(1)
    rce = A * (1 - p_y)
    per_roi = combination_loss(logits, targets, bg_index=BG, ce_weight=0.5, rce_weight=2.0, reduction="none")
    expected = torch.stack([0.5 * ce[0], 0.5 * ce[1], 2.0 * rce[2], 2.0 * rce[3]])
    torch.testing.assert_close(per_roi, expected)
    mean = combination_loss(logits, targets, bg_index=BG, ce_weight=0.5, rce_weight=2.0)
    # both terms averaged over ALL four RoIs
    torch.testing.assert_close(mean, 0.5 * (ce[0] + ce[1]) / 4 + 2.0 * (rce[2] + rce[3]) / 4)
    torch.testing.assert_close(
        combination_loss(logits, targets, bg_index=BG, reduction="sum"), ce[0] + ce[1] + rce[2] + rce[3]
    )


def test_gradient_of_instance_group_is_rce_only():
    logits, targets = hand_batch()
    z = logits.clone().requires_grad_(True)
    combination_loss(z, targets, bg_index=BG, reduction="sum").backward()
    p = F.softmax(logits, 1)
    onehot = F.one_hot(targets, 4).double()
    p_y = (p * onehot).sum(1, keepdim=True)
    expected = torch.cat([(p - onehot)[:2], (A * p_y * (p - onehot))[2:]])
    torch.testing.assert_close(z.grad, expected)
    assert torch.autograd.gradcheck(
        lambda t: combination_loss(t, targets, bg_index=BG, pon_threshold=3.0), (logits.clone().requires_grad_(True),)
    )


def test_pon_filter_zeroes_only_high_ce_instance_rois():
    logits, targets = hand_batch()
    ce = F.cross_entropy(logits, targets, reduction="none")
    assert ce[2] > 3.0 > ce[3] and ce[1] > 3.0  # RoI 1 has high CE too but is in the CE group
    with_pon = combination_loss(logits, targets, bg_index=BG, pon_threshold=3.0, reduction="none")
    without = combination_loss(logits, targets, bg_index=BG, reduction="none")
    assert with_pon[2] == 0
    torch.testing.assert_close(with_pon[[0, 1, 3]], without[[0, 1, 3]])
    z = logits.clone().requires_grad_(True)
    combination_loss(z, targets, bg_index=BG, pon_threshold=3.0).backward()
    assert torch.all(z.grad[2] == 0) and torch.any(z.grad[1] != 0)


def test_equals_cross_entropy_without_instance_group():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 11, generator=g)
    targets = torch.randint(0, 11, (64,), generator=g)
    logits[:, 10] += 20.0  # every RoI predicted background
    torch.testing.assert_close(combination_loss(logits, targets, bg_index=10), F.cross_entropy(logits, targets))
    all_bg = torch.full((64,), 10)
    logits2 = torch.randn(64, 11, generator=g)
    torch.testing.assert_close(
        combination_loss(logits2, all_bg, bg_index=10, rce_weight=7.0), F.cross_entropy(logits2, all_bg)
    )


def test_weight_multiplies_per_roi_and_mean_divides_by_n():
    logits, targets = hand_batch()
    w = torch.tensor([0.0, 1.0, 2.0, 0.5], dtype=torch.float64)
    per = combination_loss(logits, targets, bg_index=BG, reduction="none")
    torch.testing.assert_close(combination_loss(logits, targets, bg_index=BG, reduction="none", weight=w), per * w)
    torch.testing.assert_close(combination_loss(logits, targets, bg_index=BG, weight=w), (per * w).sum() / 4)


def test_background_index_need_not_be_last():
    logits, targets = hand_batch()
    perm = [3, 0, 1, 2]  # move background to index 0
    remap = torch.tensor([1, 2, 3, 0])
    torch.testing.assert_close(
        combination_loss(logits[:, perm], remap[targets], bg_index=0, reduction="none"),
        combination_loss(logits, targets, bg_index=BG, reduction="none"),
    )


def test_module_and_registry_agree_with_function():
    logits, targets = hand_batch()
    module = build_loss("combination", bg_index=BG, pon_threshold=6.0)
    assert isinstance(module, LossModule) and module.loss_fn is combination_loss
    torch.testing.assert_close(
        module(logits, targets), combination_loss(logits, targets, bg_index=BG, pon_threshold=6.0)
    )


def test_empty_batch_is_zero():
    z = torch.zeros(0, 4, requires_grad=True)
    loss = combination_loss(z, torch.zeros(0, dtype=torch.long), bg_index=BG)
    assert loss.item() == 0.0
    loss.backward()


def test_bg_index_beyond_the_logits_fails_per_call():
    logits, targets = hand_batch()
    with pytest.raises(ValueError, match=r"bg_index=4 must lie in \[0, 4\)"):
        combination_loss(logits, targets, bg_index=4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bg_index": -1}, "bg_index"),
        ({"bg_index": 3.0}, "bg_index must be an int"),
        ({"bg_index": BG, "ce_weight": -1.0}, "ce_weight"),
        ({"bg_index": BG, "pon_threshold": 0.0}, "pon_threshold"),
        ({"bg_index": BG, "label_floor": 2.0}, "label_floor"),
        ({"bg_index": BG, "reduction": "max"}, "reduction"),
    ],
)
def test_invalid_options_fail_at_build_time(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_loss("combination", **kwargs)


def _dense_batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 5, 6, 7, generator=g, dtype=torch.float64), torch.randint(0, 5, (2, 6, 7), generator=g)


@pytest.mark.parametrize("floored_ce", [False, True])
def test_dense_logits_are_the_same_split_per_pixel(floored_ce):
    logits, targets = _dense_batch()
    flat_logits, flat_targets = logits.permute(0, 2, 3, 1).reshape(-1, 5), targets.reshape(-1)
    dense = combination_loss(logits, targets, bg_index=0, floored_ce=floored_ce, reduction="none")
    flat = combination_loss(flat_logits, flat_targets, bg_index=0, floored_ce=floored_ce, reduction="none")
    torch.testing.assert_close(dense.reshape(-1), flat)
    torch.testing.assert_close(combination_loss(logits, targets, bg_index=0, floored_ce=floored_ce), flat.mean())


def test_dense_background_set_and_ignored_pixels():
    logits, targets = _dense_batch(1)
    targets[0, :2] = 255
    valid = targets != 255
    loss = combination_loss(logits, targets, bg_index=(0, 4), ignore_index=255, reduction="none")
    assert (loss[~valid] == 0).all()
    predicted = logits.argmax(dim=1)
    background = (targets == 0) | (targets == 4) | (predicted == 0) | (predicted == 4)
    ce = F.cross_entropy(logits, targets, ignore_index=255, reduction="none")
    torch.testing.assert_close(loss[valid & background], ce[valid & background])
    rce = A * (1 - F.softmax(logits, dim=1).gather(1, targets.clamp(max=4).unsqueeze(1)).squeeze(1))
    torch.testing.assert_close(loss[valid & ~background], rce[valid & ~background])
    mean = combination_loss(logits, targets, bg_index=(0, 4), ignore_index=255)
    torch.testing.assert_close(mean, loss.sum() / valid.sum())
    with pytest.raises(ValueError, match="bg_index"):
        combination_loss(logits, targets, bg_index=(0, 5), ignore_index=255)


def _released_combination(cls_score, label, num_classes, w1=1.0, w2=1.0):
    """longrongyang/Learning-with-Noisy-Class-Labels-for-Instance-Segmentation, NewCombinationLoss.forward
    (mmdet/models/losses/new_combination_loss.py), with its hard-coded .cuda() / 'cuda' removed."""
    cls_score = torch.nn.Softmax(dim=1)(cls_score)
    label_one_hot = torch.nn.functional.one_hot(label, num_classes + 1).float()
    label_false = torch.argmax(cls_score, dim=1)
    cls_score = torch.clamp(cls_score, min=1e-7, max=1.0)
    label_one_hot = torch.clamp(label_one_hot, min=1e-4, max=1.0)
    ce = -1 * torch.sum(label_one_hot * torch.log(cls_score), dim=1)
    rce = -1 * torch.sum(cls_score * torch.log(label_one_hot), dim=1)
    weight1 = 0.0 * torch.ones(len(label))
    weight1[label == num_classes] = 1.0
    weight1[label_false == num_classes] = 1.0
    weight2 = 1.0 * torch.ones(len(label))
    weight2[label == num_classes] = 0.0
    weight2[label_false == num_classes] = 0.0
    return w1 * (weight1 * ce).mean() + w2 * (weight2 * rce).mean()


def _released_sce(cls_score, label, num_classes, w1=1.0, w2=0.1):
    """The same repository's SymmetricCrossEntropyLoss.forward."""
    cls_score = torch.nn.Softmax(dim=1)(cls_score)
    label_one_hot = torch.nn.functional.one_hot(label, num_classes + 1).float()
    cls_score = torch.clamp(cls_score, min=1e-7, max=1.0)
    label_one_hot = torch.clamp(label_one_hot, min=1e-4, max=1.0)
    ce = -1 * torch.sum(label_one_hot * torch.log(cls_score), dim=1)
    rce = -1 * torch.sum(cls_score * torch.log(label_one_hot), dim=1)
    return w1 * ce.mean() + w2 * rce.mean()


@pytest.mark.parametrize("num_classes", [8, 80])
@pytest.mark.parametrize("scale", [1.0, 12.0])  # saturated logits: the clamp at 1e-7 matters
def test_floored_ce_is_the_released_code(num_classes, scale):
    g = torch.Generator().manual_seed(num_classes)
    logits = scale * torch.randn(512, num_classes + 1, generator=g, dtype=torch.float64)
    targets = torch.randint(0, num_classes + 1, (512,), generator=g)
    released = _released_combination(logits, targets, num_classes)
    ours = combination_loss(logits, targets, bg_index=num_classes, floored_ce=True)
    torch.testing.assert_close(ours, released)
    torch.testing.assert_close(
        symmetric_cross_entropy(logits, targets, alpha=1.0, beta=0.1, floored_ce=True, ignore_index=None),
        _released_sce(logits, targets, num_classes),
    )
    textbook = combination_loss(logits, targets, bg_index=num_classes)
    assert not torch.allclose(textbook, released)  # the default stays textbook CE: stock-identical "ce" mode
    assert build_loss("combination", bg_index=num_classes, floored_ce=True)(logits, targets) == ours


def test_dense_prediction_groups_equal_argmax_ties_included():
    logits, targets = _dense_batch(2)
    logits = logits.round()  # many exact ties between classes
    logits[0, :, 0, 0] = 1.0  # all tied: argmax is class 0
    for bg in (0, 2, (1, 3), (0, 4)):
        backgrounds = (bg,) if isinstance(bg, int) else bg
        predicted = logits.argmax(dim=1)
        expected = torch.ones_like(targets, dtype=torch.bool)
        for b in backgrounds:
            expected &= (targets != b) & (predicted != b)
        assert torch.equal(foreground_instance_mask(logits, targets, bg), expected)
