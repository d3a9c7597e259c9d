"""build_loss / available_losses / register_loss / loss_spec, argument errors raised at build time, and the
declared capability of every built-in loss."""

from typing import Optional

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from noisy_seg.losses import (
    CLASSIFICATION,
    CLASSIFICATION_OR_DENSE,
    DENSE,
    MASK,
    LOSS_REGISTRY,
    LossModule,
    available_losses,
    build_loss,
    cross_entropy,
    loss_spec,
    present_classes,
    register_loss,
)
from noisy_seg.losses.options import in_range, positive
from noisy_seg.losses.registry import REQUIRED

CLASSIFICATION_NAMES = ["ce", "sce", "gce", "rce", "mae", "nce", "nce_rce", "combination", "focal"]
DENSE_NAMES = ["ce", "cce", "focal", "dice", "ce_dice", "lovasz", "region_aware"]


def test_required_names_are_registered():
    names = available_losses()
    assert names == sorted(names)
    assert set(CLASSIFICATION_NAMES + DENSE_NAMES) <= set(names)


def test_unknown_name_lists_available():
    with pytest.raises(ValueError, match="unknown loss 'xent'; available: .*combination.*sce") as info:
        build_loss("xent")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("gce", {"q": 0.0}, "q must"),
        ("gce", {"q": 1.5}, "q must"),
        ("gce", {}, "missing a required argument: 'q'"),
        ("sce", {"alpha": -1.0, "beta": 1.0}, "alpha"),
        ("sce", {"alpha": 1.0, "beta": -0.1}, "beta"),
        ("sce", {"alpha": 1.0, "beta": 1.0, "label_floor": 0.0}, "label_floor"),
        ("sce", {"alpha": 1.0, "beta": 1.0, "label_floor": 1.0}, "label_floor"),
        ("rce", {"label_floor": -1e-4}, "label_floor"),
        ("nce_rce", {"alpha": float("nan")}, "alpha"),
        ("combination", {"bg_index": -1}, "bg_index"),
        ("combination", {"bg_index": 80, "rce_weight": -1.0}, "rce_weight"),
        ("combination", {"bg_index": 80, "pon_threshold": -6.0}, "pon_threshold"),
        ("focal", {"gamma": -2.0}, "gamma"),
        ("focal", {"alpha": [0.5, -0.5]}, "alpha"),
        ("dice", {"smooth": 0.0}, "smooth"),
        ("ce_dice", {"dice_weight": -1.0}, "dice_weight"),
        ("ce", {"reduction": "average"}, "reduction"),
        ("ce", {"ignore_index": 2.5}, "ignore_index"),
        ("region_aware", {"num_classes": 19, "momentum": -0.1}, "momentum"),
        ("ce", {"gamma": 2.0}, "unexpected keyword argument 'gamma'; accepted keyword arguments: ignore_index"),
    ],
)
def test_bad_kwargs_fail_at_build_time(name, kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        build_loss(name, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "name, kwargs, words",
    [
        (
            "sce",
            {},
            [
                "missing a required argument: 'alpha'",
                "no default for alpha, beta",
                "alpha=1.0, beta=0.1",
                "alpha=0.8, beta=0.2",
                "loss_kwargs",
            ],
        ),
        ("sce", {"alpha": 1.0}, ["missing a required argument: 'beta'", "no default for alpha, beta"]),
        ("gce", {}, ["missing a required argument: 'q'", "no default for q", "q=0.7", "q=0.3", "q=0.4", "loss_kwargs"]),
        ("combination", {}, ["no default for bg_index", "box predictor fills in num_classes"]),
        ("region_aware", {}, ["no default for num_classes", "semantic heads fill it in"]),
    ],
)
def test_a_missing_required_option_says_why_it_has_no_default(name, kwargs, words):
    """sce and gce have no defaults (the published values differ between the box classifier and the pixels): the
    error names every required option and the values in use, in one line."""
    with pytest.raises(ValueError) as info:
        build_loss(name, **kwargs)
    assert "\n" not in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_the_heads_pass_the_missing_option_error_on():
    from noisy_seg.modeling import SemSegLoss

    with pytest.raises(ValueError, match="'sce' has no default for alpha, beta"):
        SemSegLoss("sce", ignore_value=255, num_classes=3)
    with pytest.raises(ValueError, match="'gce' has no default for q"):
        SemSegLoss("ce + gce", ignore_value=255, num_classes=3)


def test_built_losses_are_modules_called_with_optional_weight():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 5, generator=g)
    y = torch.randint(0, 5, (6,), generator=g)
    w = torch.rand(6, generator=g)
    for name, kwargs in [
        ("ce", {}),
        ("sce", {"alpha": 1.0, "beta": 0.1}),
        ("gce", {"q": 0.7}),
        ("combination", {"bg_index": 4}),
        ("focal", {}),
        ("nce_rce", {}),
    ]:
        loss_fn = build_loss(name, **kwargs)
        assert isinstance(loss_fn, nn.Module)
        unweighted = build_loss(name, reduction="none", **kwargs)(z, y)
        torch.testing.assert_close(loss_fn(z, y, weight=w), (unweighted * w).mean(), msg=name)
    torch.testing.assert_close(build_loss("ce")(z, y), F.cross_entropy(z, y))
    assert "alpha=1.0, beta=0.1" in repr(build_loss("sce", alpha=1.0, beta=0.1))


def test_register_loss_rejects_name_clash():
    with pytest.raises(ValueError, match="already registered"):
        register_loss("ce", lambda logits, targets: logits.sum(), kind=CLASSIFICATION)
    register_loss("ce", cross_entropy, kind=CLASSIFICATION_OR_DENSE)  # the same function again: a no-op
    assert loss_spec("ce").loss is cross_entropy


def scaled_margin_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    scale: float,
    margin: float = 0.5,
    reduction: str = "mean",
    weight: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """A loss written for this test only: the whole of what a new loss needs is this function plus one line."""
    loss = scale * F.relu(margin - F.log_softmax(logits, dim=1).gather(1, targets.unsqueeze(1)).squeeze(1).exp())
    loss = loss if weight is None else loss * weight
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


@pytest.fixture
def registered_margin_loss():
    spec = register_loss("_test_margin", scaled_margin_loss, kind=CLASSIFICATION, scale=positive, margin=in_range(0, 1))
    try:
        yield spec
    finally:
        del LOSS_REGISTRY["_test_margin"]


def test_a_new_loss_is_one_function_plus_one_registration_line(registered_margin_loss):
    spec = registered_margin_loss
    assert "_test_margin" in available_losses()
    assert spec.kind == CLASSIFICATION and not spec.needs_bg_index and not spec.needs_image_tags
    assert dict(spec.defaults) == {"scale": REQUIRED, "margin": 0.5, "reduction": "mean"}  # read from the signature
    loss_fn = build_loss("_test_margin", scale=2.0)
    assert isinstance(loss_fn, LossModule)
    assert loss_fn.options == {"scale": 2.0, "margin": 0.5, "reduction": "mean"}
    z, y = torch.randn(6, 3), torch.randint(0, 3, (6,))
    w = torch.rand(6)
    torch.testing.assert_close(loss_fn(z, y), scaled_margin_loss(z, y, scale=2.0))
    torch.testing.assert_close(loss_fn(z, y, w), scaled_margin_loss(z, y, scale=2.0, weight=w))
    for kwargs, message in [
        ({"scale": 0.0}, "scale must be a finite number > 0, got 0.0"),
        ({"scale": 1.0, "margin": 2.0}, r"margin must be a number in \[0, 1\], got 2.0"),
        ({"scale": 1.0, "reduction": "avg"}, "reduction must be one of"),
        ({}, "missing a required argument: 'scale'"),
        (
            {"scale": 1.0, "gamma": 2.0},
            "unexpected keyword argument 'gamma'; accepted keyword arguments: scale, margin, reduction",
        ),
    ]:
        with pytest.raises(ValueError, match=message) as info:
            build_loss("_test_margin", **kwargs)
        assert "_test_margin" in str(info.value) and "\n" not in str(info.value)


def test_registration_mistakes_fail_at_registration():
    with pytest.raises(ValueError, match="has no keyword-only option 'sclae'"):
        register_loss("_test_typo", scaled_margin_loss, kind=CLASSIFICATION, sclae=positive)
    with pytest.raises(ValueError, match=r"default margin=0.5 is not a number in \[1, 2\]"):
        register_loss("_test_bad_default", scaled_margin_loss, kind=CLASSIFICATION, margin=in_range(1, 2))
    with pytest.raises(ValueError, match="has no keyword-only option 'bg_index'"):
        register_loss("_test_no_bg", scaled_margin_loss, kind=CLASSIFICATION, needs_bg_index=True)
    with pytest.raises(ValueError, match="kind must be one of"):
        register_loss("_test_kind", scaled_margin_loss, kind="boxes")
    assert not [name for name in available_losses() if name.startswith("_test")]


def test_a_module_class_registers_the_same_way():
    class Scaled(nn.Module):
        def __init__(self, *, scale: float = 1.0):
            super().__init__()
            self.scale = scale

        def forward(self, logits, targets, weight=None):
            return self.scale * F.cross_entropy(logits, targets)

    register_loss("_test_module", Scaled, kind=CLASSIFICATION_OR_DENSE, scale=positive)
    try:
        assert build_loss("_test_module", scale=3.0).scale == 3.0
        with pytest.raises(ValueError, match="scale must be a finite number > 0"):
            build_loss("_test_module", scale=-1.0)
    finally:
        del LOSS_REGISTRY["_test_module"]


# name -> (kind, needs_bg_index, needs_image_tags, options that must be given)
BUILT_IN = {
    "ce": (CLASSIFICATION_OR_DENSE, False, False, {}),
    "rce": (CLASSIFICATION_OR_DENSE, False, False, {}),
    "sce": (CLASSIFICATION_OR_DENSE, False, False, {"alpha": 1.0, "beta": 0.1}),
    "mae": (CLASSIFICATION_OR_DENSE, False, False, {}),
    "nce": (CLASSIFICATION_OR_DENSE, False, False, {}),
    "nce_rce": (CLASSIFICATION_OR_DENSE, False, False, {}),
    "gce": (CLASSIFICATION_OR_DENSE, False, False, {"q": 0.7}),
    "focal": (CLASSIFICATION_OR_DENSE, False, False, {}),
    "combination": (CLASSIFICATION_OR_DENSE, True, False, {"bg_index": 4}),
    "cce": (DENSE, False, True, {}),
    "dice": (DENSE, False, False, {}),
    "ce_dice": (DENSE, False, False, {}),
    "lovasz": (DENSE, False, False, {}),
    "region_aware": (DENSE, False, False, {"num_classes": 5}),
    "bce": (MASK, False, False, {}),
    "sbce": (MASK, False, False, {"alpha": 1.0, "beta": 0.1}),
    "pixel_gce": (MASK, False, False, {}),
    "bootstrap_soft": (MASK, False, False, {}),
    "bootstrap_hard": (MASK, False, False, {}),
    "boundary_bce": (MASK, False, False, {}),
    "dice_bce": (MASK, False, False, {}),
    "bpm_bce": (MASK, False, False, {}),
}


def test_the_built_in_names_stay_exactly():
    assert available_losses() == sorted(BUILT_IN)


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_declared_capability_of_each_built_in_loss(name):
    kind, needs_bg_index, needs_image_tags, required = BUILT_IN[name]
    spec = loss_spec(name)
    assert (spec.kind, spec.needs_bg_index, spec.needs_image_tags) == (kind, needs_bg_index, needs_image_tags)
    assert {key for key, default in spec.defaults.items() if default is REQUIRED} == set(required)
    # The declaration matches what the loss accepts: the logits of its kind run, the others are refused.
    loss_fn = build_loss(name, **required)
    classification = (torch.randn(8, 5), torch.randint(0, 5, (8,)))
    dense = (torch.randn(2, 5, 3, 4), torch.randint(0, 5, (2, 3, 4)))
    mask = (torch.randn(3, 6, 6), (torch.rand(3, 6, 6) > 0.5).float())  # per-RoI mask logits, cropped masks
    for inputs, accepted in [
        (classification, spec.takes_classification_logits),
        (dense, spec.takes_dense_logits),
        (mask, spec.takes_mask_logits),
    ]:
        if accepted:
            assert torch.isfinite(loss_fn(*inputs))
        else:
            with pytest.raises(ValueError, match="expects|targets must be an integer"):
                loss_fn(*inputs)


def test_image_tags_are_a_per_step_input():
    z, y = torch.randn(2, 5, 3, 4), torch.randint(0, 4, (2, 3, 4))
    loss_fn = build_loss("cce")
    tags = present_classes(y, 5)
    torch.testing.assert_close(loss_fn(z, y, present=tags), loss_fn(z, y))  # default: tags from the targets
    tags[:, 4] = True  # a tagged class with no pixel widens the softmax
    assert not torch.allclose(loss_fn(z, y, present=tags), loss_fn(z, y))
