"""The semantic heads' loss strings are read strictly (issue 21, item 4): every malformed string, unknown name,
repeated term or weight that is not a finite number > 0 is one ValueError line when the head is built; a term is
never dropped, and the weights are those written."""

import pytest
import torch
import torch.nn.functional as F

from detectron2.layers import ShapeSpec

from noisy_seg.modeling import NoisySemSegFPNHead
from noisy_seg.modeling.sem_seg_loss import parse_loss_terms

C = 6
FPN_ARGS = dict(
    input_shape={"p2": ShapeSpec(channels=8, stride=4)},
    num_classes=C,
    conv_dims=8,
    common_stride=4,
    norm="",
    ignore_value=255,
)


@pytest.mark.parametrize(
    "loss, message",
    [
        ("ce + 0.5 *", "cannot read the term '0.5 *'"),
        ("ce +", "cannot read the term ''"),
        ("ce * 0.5", "cannot read the term 'ce * 0.5'"),
        ("half * ce", "its weight 'half' is not a number"),
        ("gcee", "unknown loss 'gcee'. Did you mean: gce, ce?"),
        ("CE", "unknown loss 'CE'. Did you mean: ce"),
        ("-1 * ce", "the weight of 'ce' must be > 0, got -1.0"),
        ("ce + -0.5 * dice", "the weight of 'dice' must be > 0, got -0.5"),
        ("0 * ce", "a term of weight 0 trains nothing: leave it out"),
        ("ce + ce", "names 'ce' twice; give each loss once, with its total weight (e.g. '2 * ce')"),
        ("ce + 0.5 * ce", "names 'ce' twice"),
        ("1e400 * ce", "the weight 1e400 of 'ce' is not a finite number"),
        ("nan * ce", "the weight nan of 'ce' is not a finite number"),
        ("1e39 * ce", "overflows the float32 loss it multiplies"),
        ({"ce": float("inf")}, "the weight of 'ce' must be a finite number > 0, got inf"),
        ({"ce": 0}, "a term of weight 0 trains nothing"),
        ({"ce": "0.5"}, "must be a finite number > 0, got '0.5'"),
        ({}, "names no term"),
    ],
)
def test_bad_loss_strings_are_one_line_when_the_head_is_built(loss, message):
    with pytest.raises(ValueError) as info:
        NoisySemSegFPNHead(**FPN_ARGS, loss=loss)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_weights_are_read_as_written():
    assert parse_loss_terms("1e+1 * ce + dice") == {"ce": 10.0, "dice": 1.0}  # an exponent's '+' is no new term
    assert parse_loss_terms("2E-1*ce+.5*dice") == {"ce": 0.2, "dice": 0.5}
    assert parse_loss_terms({"ce": 1, "dice": 0.5}) == {"ce": 1.0, "dice": 0.5}


def test_a_weighted_single_term_is_that_multiple_of_the_loss():
    torch.manual_seed(0)
    head = NoisySemSegFPNHead(**FPN_ARGS, loss="2 * ce").train()
    features = {"p2": torch.randn(2, 8, 8, 8)}
    targets = torch.randint(0, C, (2, 32, 32))
    logits = F.interpolate(head.layers(features), scale_factor=4, mode="bilinear", align_corners=False)
    expected = 2 * F.cross_entropy(logits, targets, ignore_index=255)
    torch.testing.assert_close(head(features, targets)[1]["loss_sem_seg"], expected)
