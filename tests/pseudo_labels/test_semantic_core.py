"""The numeric core of semantic pseudo labels, against hand computations: multi-scale x flip logit averaging,
tag masking and the confidence threshold, and the quality numbers (confusion matrix, mIoU, coverage)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from noisy_seg.pseudo_labels.semantic import (
    confusion_matrix,
    label_quality,
    multiscale_logits,
    pseudo_label_from_logits,
)


class KnownLogits(torch.nn.Module):
    """Per input, 4 channels at the output size (height x width): 0 a column ramp 0..W-1 (not flip-symmetric),
    1 the input's height / 100 (which scale ran), 2 the input's mean / 100, 3 its first channel resized back."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def forward(self, batched_inputs):
        self.batches.append([tuple(x["image"].shape[-2:]) for x in batched_inputs])
        outputs = []
        for x in batched_inputs:
            image, height, width = x["image"].float(), x["height"], x["width"]
            ramp = torch.arange(width, dtype=torch.float32).expand(height, width)
            first = F.interpolate(image[None, :1], size=(height, width), mode="bilinear", align_corners=False)[0, 0]
            outputs.append(
                {
                    "sem_seg": torch.stack(
                        [
                            ramp,
                            torch.full((height, width), image.shape[-2] / 100),
                            torch.full((height, width), float(image.mean()) / 100),
                            first,
                        ]
                    )
                }
            )
        return outputs


def test_multiscale_average_with_flip_equals_the_hand_computation():
    constant = torch.full((3, 10, 16), 40, dtype=torch.uint8)
    model = KnownLogits()
    scales = (0.5, 0.75, 1.0, 1.25, 1.5)
    [logits] = multiscale_logits(model, [{"image": constant, "height": 10, "width": 16}], scales, flip=True)
    assert logits.shape == (4, 10, 16)
    # a ramp and its flipped-back mirror average to the middle column everywhere
    torch.testing.assert_close(logits[0], torch.full((10, 16), 7.5))
    heights = [round(10 * s) for s in scales]  # 5, 8 (7.5 rounds to even), 10, 12, 15
    torch.testing.assert_close(logits[1], torch.full((10, 16), sum(heights) / len(heights) / 100))
    torch.testing.assert_close(logits[2], torch.full((10, 16), 0.4))
    torch.testing.assert_close(logits[3], torch.full((10, 16), 40.0))
    # one forward per scale, holding the image and its flip
    assert model.batches == [[(h, w), (h, w)] for h, w in zip(heights, [8, 12, 16, 20, 24])]


def test_without_flip_the_ramp_stays_and_a_flipped_image_is_flipped_back():
    image = torch.arange(3 * 6 * 8, dtype=torch.uint8).reshape(3, 6, 8)
    [plain] = multiscale_logits(KnownLogits(), [{"image": image, "height": 6, "width": 8}], (1.0,), flip=False)
    torch.testing.assert_close(plain[0], torch.arange(8.0).expand(6, 8))
    [flipped] = multiscale_logits(KnownLogits(), [{"image": image, "height": 6, "width": 8}], (1.0,), flip=True)
    torch.testing.assert_close(flipped[3], image[0].float())  # the flipped view's output is flipped back
    # two scales, by hand: the image resized to half size and back, averaged with the image itself
    [two] = multiscale_logits(KnownLogits(), [{"image": image, "height": 6, "width": 8}], (0.5, 1.0), flip=False)
    half = F.interpolate(image[None].float(), size=(3, 4), mode="bilinear", align_corners=False)
    back = F.interpolate(half[:, :1], size=(6, 8), mode="bilinear", align_corners=False)[0, 0]
    torch.testing.assert_close(two[3], (back + image[0].float()) / 2)


def test_a_batch_of_two_sizes_is_one_forward_per_scale_at_each_output_size():
    model = KnownLogits()
    inputs = [
        {"image": torch.zeros(3, 8, 8, dtype=torch.uint8), "height": 16, "width": 16},
        {"image": torch.full((3, 4, 6), 10, dtype=torch.uint8), "height": 4, "width": 6},
    ]
    first, second = multiscale_logits(model, inputs, (1.0, 0.5), flip=True)
    assert first.shape == (4, 16, 16) and second.shape == (4, 4, 6)
    assert len(model.batches) == 2 and [len(b) for b in model.batches] == [4, 4]
    torch.testing.assert_close(second[2], torch.full((4, 6), 0.1))


def test_tag_masking_and_threshold():
    # 3 classes over 4 pixels; column 3 is a tie-free low-confidence pixel
    logits = torch.tensor([[[5.0, 0.0, 0.0, 1.0]], [[0.0, 5.0, 0.0, 1.1]], [[0.0, 0.0, 5.0, 1.0]]])
    labels, confidence = pseudo_label_from_logits(logits)
    assert labels.dtype == torch.uint8 and confidence.dtype == torch.float32 and labels.shape == (1, 4)
    assert labels.tolist() == [[0, 1, 2, 1]]
    softmax = logits.softmax(dim=0)
    torch.testing.assert_close(confidence, softmax.max(dim=0).values)

    # class 1 not in the image: its pixel goes to the best present class, probabilities renormalised over {0, 2}
    labels, confidence = pseudo_label_from_logits(logits, present=[0, 2])
    assert labels.tolist() == [[0, 0, 2, 0]]
    present = logits[[0, 2]].softmax(dim=0)
    torch.testing.assert_close(confidence, present.max(dim=0).values)
    same, _ = pseudo_label_from_logits(logits, present=torch.tensor([True, False, True]))
    assert same.tolist() == labels.tolist()

    labels, confidence = pseudo_label_from_logits(logits, present=[0, 2], threshold=0.6, ignore_label=255)
    assert labels.tolist() == [[0, 255, 2, 255]]  # pixel 1: 0.5 after masking; pixel 3: exp(1)/(exp(1)*2) = 0.5
    labels, _ = pseudo_label_from_logits(logits, threshold=0.0)
    assert labels.tolist() == [[0, 1, 2, 1]]


def test_an_image_without_tags_is_all_ignore_and_batches_mask_per_image():
    logits = torch.randn(2, 3, 2, 2)
    labels, confidence = pseudo_label_from_logits(
        logits, present=torch.tensor([[True, True, True], [False, False, False]])
    )
    assert labels[1].eq(255).all() and confidence[1].eq(0).all() and not confidence.isnan().any()
    torch.testing.assert_close(labels[0], logits[0].argmax(dim=0).to(torch.uint8))


def test_quality_on_a_hand_made_example():
    ignore = 255
    truth = np.array([[0, 0, 1, 1], [0, 2, 2, ignore]], dtype=np.uint8)
    pseudo = np.array([[0, 1, 1, ignore], [0, 2, 3, 2]], dtype=np.uint8)
    confusion = confusion_matrix(pseudo, truth, num_classes=5)
    # pixels labelled on both sides: (0,0) (0,1) (1,1) (0,0) (2,2) (2,3); the ignored ones are left out
    expected = np.zeros((5, 5), dtype=np.int64)
    for t, p in [(0, 0), (0, 1), (1, 1), (0, 0), (2, 2), (2, 3)]:
        expected[t, p] += 1
    np.testing.assert_array_equal(confusion, expected)

    names = ["a", "b", "c", "d", "e"]
    quality = label_quality(confusion, names, pixels=pseudo.size, covered=int((pseudo != ignore).sum()))
    # IoU a: 2 / (3 + 2 - 2); b: 1 / (1 + 2 - 1); c: 1 / (2 + 1 - 1); d is predicted but never occurs (left out, as
    # SemSegEvaluator does); e neither occurs nor is predicted
    assert quality["IoU"] == pytest.approx({"a": 100 * 2 / 3, "b": 50.0, "c": 50.0})
    assert quality["mIoU"] == pytest.approx(100 * (2 / 3 + 0.5 + 0.5) / 3)
    assert quality["pACC"] == pytest.approx(100 * 4 / 6)
    assert quality["coverage"] == pytest.approx(7 / 8)
    assert (quality["pixels"], quality["covered_pixels"]) == (8, 7)
