"""build_loss / available_losses / register_loss, and argument errors raised at build time."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from noisy_seg.losses import LOSS_REGISTRY, available_losses, build_loss, register_loss

CLASSIFICATION = ["ce", "sce", "gce", "rce", "mae", "nce", "nce_rce", "combination", "focal"]
DENSE = ["ce", "cce", "focal", "dice", "ce_dice", "lovasz", "region_aware"]


def test_required_names_are_registered():
    names = available_losses()
    assert names == sorted(names)
    assert set(CLASSIFICATION + DENSE) <= set(names)


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


def test_built_losses_are_modules_called_with_optional_weight():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 5, generator=g)
    y = torch.randint(0, 5, (6,), generator=g)
    w = torch.rand(6, generator=g)
    for name, kwargs in [("ce", {}), ("sce", {"alpha": 1.0, "beta": 0.1}), ("gce", {"q": 0.7}),
                         ("combination", {"bg_index": 4}), ("focal", {}), ("nce_rce", {})]:
        loss_fn = build_loss(name, **kwargs)
        assert isinstance(loss_fn, nn.Module)
        unweighted = build_loss(name, reduction="none", **kwargs)(z, y)
        torch.testing.assert_close(loss_fn(z, y, weight=w), (unweighted * w).mean(), msg=name)
    torch.testing.assert_close(build_loss("ce")(z, y), F.cross_entropy(z, y))
    assert "alpha=1.0, beta=0.1" in repr(build_loss("sce", alpha=1.0, beta=0.1))


def test_register_loss_rejects_name_clash():
    with pytest.raises(ValueError, match="already registered"):
        @register_loss("ce")
        class Other(nn.Module):
            pass

    @register_loss("_test_only_loss")
    class Custom(nn.Module):
        def forward(self, logits, targets, weight=None):
            return logits.sum()

    try:
        assert isinstance(build_loss("_test_only_loss"), Custom)
    finally:
        del LOSS_REGISTRY["_test_only_loss"]
