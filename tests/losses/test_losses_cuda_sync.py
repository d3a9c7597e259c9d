"""On a CUDA device: a training step of every registered loss (forward + backward, float32 and bf16 autocast)
runs under torch.cuda.set_sync_debug_mode("error"), so any device-to-host sync raises. Skipped without CUDA
(the CPU sentinel in test_losses_step_contract.py covers the same operations there). Needs torch alone:
    python -m pytest tests/losses/test_losses_cuda_sync.py
"""

import pytest
import torch

from noisy_seg.losses import available_losses, build_loss, loss_spec

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

C = 5
OPTIONS = {
    "sce": {"alpha": 1.0, "beta": 0.1},
    "gce": {"q": 0.7},
    "combination": {"bg_index": C - 1},
    "region_aware": {"num_classes": C},
    "sbce": {"alpha": 1.0, "beta": 0.1},
}


def _inputs(name):
    g = torch.Generator(device="cuda").manual_seed(0)
    if loss_spec(name).takes_mask_logits:
        targets = torch.zeros(64, 28, 28, device="cuda")
        targets[:, 5:20, 8:24] = 1
        return torch.randn(64, 28, 28, device="cuda", generator=g).requires_grad_(), targets
    if not loss_spec(name).takes_dense_logits:
        logits = torch.randn(64, C, device="cuda", generator=g)
        return logits.requires_grad_(), torch.randint(0, C, (64,), device="cuda", generator=g)
    logits = torch.randn(2, C, 32, 48, device="cuda", generator=g)
    targets = torch.randint(0, C, (2, 32, 48), device="cuda", generator=g)
    targets[0, :4] = 255  # ignored pixels
    return logits.requires_grad_(), targets


@pytest.mark.parametrize("autocast", [False, True], ids=["fp32", "bf16"])
@pytest.mark.parametrize("name", available_losses())
def test_a_training_step_never_syncs_with_the_host(name, autocast):
    loss = build_loss(name, **OPTIONS.get(name, {})).cuda().train()
    logits, targets = _inputs(name)
    inputs = {"roi_sizes": torch.full((64,), 40.0, device="cuda")} if loss_spec(name).needs_roi_sizes else {}
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(2):  # region_aware updates its confusion EMA after the first step
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                value = loss(logits * 1.0, targets, **inputs)
            value.backward()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(value.detach()).item() and logits.grad is not None
