"""Every registered loss: finite values and gradients at |z| = 1e4, float32 results under bf16 autocast."""

import pytest
import torch

from noisy_seg.losses import available_losses, build_loss

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

# name -> (kwargs, accepts (N, C) logits, accepts (N, C, H, W) logits)
CASES = {
    "ce": ({}, True, True),
    "rce": ({}, True, True),
    "sce": ({"alpha": 1.0, "beta": 0.1}, True, True),
    "mae": ({}, True, True),
    "nce": ({}, True, True),
    "nce_rce": ({}, True, True),
    "gce": ({"q": 0.3}, True, True),
    "combination": ({"bg_index": 6, "pon_threshold": 6.0}, True, False),
    "focal": ({"gamma": 2.0}, True, True),
    "cce": ({}, False, True),
    "dice": ({}, False, True),
    "ce_dice": ({}, False, True),
    "lovasz": ({"per_image": True}, False, True),
    "region_aware": ({"num_classes": 7}, False, True),
}
# mask losses: (R, M, M) logits against float masks, kwargs
MASK_CASES = {
    "bce": {},
    "sbce": {"alpha": 1.0, "beta": 0.1},
    "pixel_gce": {},
    "bootstrap_soft": {},
    "bootstrap_hard": {},
    "boundary_bce": {"band_width": 1.0},
    "dice_bce": {},
    "bpm_bce": {},
}
SHAPED = [
    (name, dense)
    for name, (_, flat_ok, dense_ok) in CASES.items()
    for dense, ok in ((False, flat_ok), (True, dense_ok))
    if ok
]


def test_every_registered_loss_is_covered():
    assert set(available_losses()) == set(CASES) | set(MASK_CASES)


def inputs(dense, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    if dense:
        z = torch.randn(2, 7, 6, 5, generator=g)
        y = torch.randint(0, 7, (2, 6, 5), generator=g)
        y[0, 0] = 255
    else:
        z = torch.randn(40, 7, generator=g)
        y = torch.randint(0, 7, (40,), generator=g)
    return z.to(device), y.to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, dense", SHAPED)
def test_extreme_logits_give_finite_values_and_gradients(name, dense, device):
    z, y = inputs(dense, device)
    # +-1e4 logits: the target class is both the winner and a hopeless loser somewhere in the batch
    extreme = (torch.sign(z) * 1e4).requires_grad_(True)
    loss_fn = build_loss(name, **CASES[name][0]).to(device)
    loss = loss_fn(extreme, y)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss), (name, loss)
    assert torch.all(torch.isfinite(extreme.grad)), name
    half = (torch.sign(z) * 1e4).half().requires_grad_(True)
    loss_half = build_loss(name, **CASES[name][0]).to(device)(half, y)
    loss_half.backward()
    assert loss_half.dtype == torch.float32 and torch.isfinite(loss_half), name
    assert torch.all(torch.isfinite(half.grad.float())), name


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, dense", SHAPED)
def test_bf16_autocast_gives_float32_close_to_float32(name, dense, device):
    z, y = inputs(dense, device, seed=1)
    head = torch.nn.Linear(7, 7).to(device)
    features = z.movedim(1, -1)

    def logits_from_head():
        return head(features).movedim(-1, 1)

    reference = build_loss(name, **CASES[name][0]).to(device).eval()(logits_from_head(), y)
    with torch.autocast(device_type=device, dtype=torch.bfloat16):
        logits = logits_from_head()
        assert logits.dtype == torch.bfloat16
        loss = build_loss(name, **CASES[name][0]).to(device).eval()(logits, y)
    assert loss.dtype == torch.float32 and torch.isfinite(loss), name
    torch.testing.assert_close(loss, reference, rtol=3e-2, atol=1e-2)
    loss.backward()
    assert all(torch.all(torch.isfinite(p.grad)) for p in head.parameters()), name


def mask_inputs(device, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(6, 10, 10, generator=g)
    y = torch.zeros(6, 10, 10)
    y[:, 2:8, 3:9] = 1
    return z.to(device), y.to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(MASK_CASES))
def test_mask_losses_at_extreme_logits_and_under_bf16_autocast(name, device):
    z, y = mask_inputs(device)
    extreme = (torch.sign(z) * 1e4).requires_grad_(True)
    loss = build_loss(name, **MASK_CASES[name]).to(device)(extreme, y)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss), (name, loss)
    assert torch.all(torch.isfinite(extreme.grad)), name
    head = torch.nn.Linear(10, 10).to(device)
    reference = build_loss(name, **MASK_CASES[name]).to(device)(head(z), y)
    with torch.autocast(device_type=device, dtype=torch.bfloat16):
        logits = head(z)
        assert logits.dtype == torch.bfloat16
        loss = build_loss(name, **MASK_CASES[name]).to(device)(logits, y)
    assert loss.dtype == torch.float32 and torch.isfinite(loss), name
    torch.testing.assert_close(loss, reference, rtol=3e-2, atol=1e-2)
