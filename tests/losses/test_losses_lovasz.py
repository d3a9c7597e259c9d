"""Lovasz-softmax against a transcription of Berman et al.'s reference loop implementation."""

import pytest
import torch
import torch.nn.functional as F

from noisy_seg.losses import build_loss, lovasz_softmax


def berman_lovasz_grad(gt_sorted):
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    if len(gt_sorted) > 1:
        jaccard[1:] = jaccard[1:] - jaccard[:-1]
    return jaccard


def berman_flat(probas, labels, classes):
    """Per-class loop over already flattened, ignore-filtered probas (P, C) and labels (P,)."""
    if probas.numel() == 0:
        return probas.sum() * 0.0
    losses = []
    class_list = list(range(probas.shape[1])) if classes in ("all", "present") else classes
    for c in class_list:
        fg = (labels == c).to(probas.dtype)
        if classes == "present" and fg.sum() == 0:
            continue
        errors = (fg - probas[:, c]).abs()
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        losses.append(torch.dot(errors_sorted, berman_lovasz_grad(fg[perm])))
    return torch.stack(losses).mean() if losses else probas.sum() * 0.0


def berman_lovasz(logits, labels, classes="present", per_image=False, ignore=255):
    probas = F.softmax(logits, 1)

    def flatten(p, lab):
        p = p.permute(0, 2, 3, 1).reshape(-1, p.shape[1])
        lab = lab.reshape(-1)
        keep = lab != ignore
        return p[keep], lab[keep]

    if per_image:
        # Berman averages in all-ignored images as 0; lovasz_softmax leaves them out of the mean.
        kept = [(p, lab) for p, lab in zip(probas, labels) if (lab != ignore).any()]
        return torch.stack([berman_flat(*flatten(p[None], lab[None]), classes) for p, lab in kept]).mean()
    return berman_flat(*flatten(probas, labels), classes)


def batch(seed=0, n=3, c=4, h=5, w=7, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, h, w, generator=g, dtype=dtype) * 2
    y = torch.randint(0, c - 1, (n, h, w), generator=g)  # class c-1 is absent: "present" != "all"
    y[torch.rand(n, h, w, generator=g) < 0.25] = 255
    return z, y


@pytest.mark.parametrize("classes", ["present", "all", [0, 3], [2]])
@pytest.mark.parametrize("per_image", [False, True])
def test_matches_berman_reference(classes, per_image):
    z, y = batch()
    y[1] = 255  # one fully ignored image
    expected = berman_lovasz(z, y, classes=classes, per_image=per_image)
    torch.testing.assert_close(lovasz_softmax(z, y, classes=classes, per_image=per_image), expected)
    t1, t2 = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
    lovasz_softmax(t1, y, classes=classes, per_image=per_image).backward()
    berman_lovasz(t2, y, classes=classes, per_image=per_image).backward()
    torch.testing.assert_close(t1.grad, t2.grad)


def test_gradcheck_and_perfect_prediction():
    z, y = batch(n=2, c=3, h=3, w=3, seed=1)
    assert torch.autograd.gradcheck(lambda t: lovasz_softmax(t, y, per_image=True), (z.requires_grad_(True),))
    yy = torch.randint(0, 3, (2, 4, 4))
    perfect = F.one_hot(yy, 3).permute(0, 3, 1, 2).double() * 60
    assert lovasz_softmax(perfect, yy).item() < 1e-12
    assert lovasz_softmax(-perfect, yy).item() > 0.9


def test_no_ignore_index_and_all_ignored():
    z, y = batch()
    y_full = y.masked_fill(y == 255, 0)
    torch.testing.assert_close(lovasz_softmax(z, y_full, ignore_index=None), berman_lovasz(z, y_full))
    t = z.clone().requires_grad_(True)
    loss = lovasz_softmax(t, torch.full_like(y, 255))
    loss.backward()
    assert loss.item() == 0.0 and torch.all(t.grad == 0)


def test_registry_module_and_validation():
    z, y = batch()
    torch.testing.assert_close(
        build_loss("lovasz", classes=[0, 1], per_image=True)(z, y), lovasz_softmax(z, y, classes=[0, 1], per_image=True)
    )
    with pytest.raises(ValueError, match="classes"):
        build_loss("lovasz", classes="some")
    with pytest.raises(ValueError, match="index >= C=4"):
        lovasz_softmax(z, y, classes=[4])
    with pytest.raises(ValueError, match="per_image"):
        build_loss("lovasz", per_image=1)
