"""What a trained R-CNN predicts on boxes we give it (the annotated boxes) instead of on its own proposals.

Label correction asks "what does the model think this annotated object is?": the ROI heads see exactly the
annotated box, with no box regression, no NMS and no score threshold, so row i of every output belongs to box i.
Only detectron2's own modules run (backbone, poolers, heads, `predict_probs`, mask pasting).
"""

from __future__ import annotations

import contextlib
from typing import Optional, Sequence

import torch

from detectron2.layers.mask_ops import _do_paste_mask
from detectron2.modeling import GeneralizedRCNN
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.modeling.roi_heads import FastRCNNOutputLayers, StandardROIHeads
from detectron2.structures import Boxes, Instances

__all__ = ["predict_on_given_boxes"]

_PASTE_CHUNK = 16  # masks pasted at full image size per step: bounds the sampling grid's memory


def predict_on_given_boxes(
    model: GeneralizedRCNN,
    batched_inputs: Sequence[dict],
    boxes: Sequence,
    *,
    classes: Optional[Sequence[torch.Tensor]] = None,
    predict_masks: bool = True,
    detect: bool = False,
) -> list[dict]:
    """Class and mask probabilities of `model` on given boxes (eval mode, no gradients) and, with `detect`, the
    model's own detections, from the same backbone features (one backbone pass for both).

    Args:
        model: a GeneralizedRCNN whose roi_heads is a StandardROIHeads with one box predictor (our
            NoisyStandardROIHeads included; cascade heads are refused).
        batched_inputs: the model's usual inputs: per image {"image": (C, H', W') tensor after the test-time
            resize, in the model's input format; optional "height", "width": the size to paste masks at,
            the record's original size (default H', W')}.
        boxes: per image, an (N, 4) XYXY tensor (or Boxes) in the coordinates of that network input, i.e. the
            record's boxes after the same transform as the image.
        classes: per image, (N,) contiguous class ids whose mask is returned (the given labels); default the
            most probable foreground class.
        predict_masks: False skips the mask head (and the costly pasting).
        detect: also run the model's own test-time inference (proposal generator, ROI heads, post-processing at
            "height" x "width"): what `model(batched_inputs)` returns, without a second backbone pass.

    Returns:
        per image {"class_probs": (N, K + 1) float tensor (the predictor's `predict_probs`: softmax, last
        column background), "mask_probs": (N, height, width) float tensor, the mask probability of each row's
        class pasted at the original size, or None without a mask head or with predict_masks=False} and, with
        `detect`, "instances": the detections as `model(batched_inputs)[i]["instances"]`.
    """
    roi_heads = _check_model(model)
    if detect and model.proposal_generator is None:
        raise ValueError("detect=True needs a model with a proposal generator (not precomputed proposals)")
    if len(boxes) != len(batched_inputs) or (classes is not None and len(classes) != len(batched_inputs)):
        raise ValueError(f"{len(batched_inputs)} inputs need as many box (and class) lists, got {len(boxes)}")
    with torch.no_grad(), _eval_mode(model):
        images = model.preprocess_image(batched_inputs)
        features = model.backbone(images.tensor)
        proposals = [_proposals(size, b, model.device) for size, b in zip(images.image_sizes, boxes)]
        class_probs = _class_probs(roi_heads, features, proposals)
        mask_probs = [None] * len(proposals)
        if predict_masks and roi_heads.mask_on:
            if classes is None:  # argmax over the foreground columns
                classes = [p[:, :-1].argmax(dim=1) for p in class_probs]
            mask_probs = _mask_probs(roi_heads, features, proposals, classes, _output_sizes(batched_inputs, images))
        outputs = [{"class_probs": c, "mask_probs": m} for c, m in zip(class_probs, mask_probs)]
        if detect:  # GeneralizedRCNN.inference from the features already computed
            detected, _ = model.proposal_generator(images, features, None)
            results, _ = roi_heads(images, features, detected, None)
            for output, result, (height, width) in zip(outputs, results, _output_sizes(batched_inputs, images)):
                output["instances"] = detector_postprocess(result, height, width)
    return outputs


def _output_sizes(batched_inputs, images) -> list[tuple[int, int]]:
    """Per image the size its outputs are returned at: its "height" x "width", default the network input's."""
    return [(x.get("height", size[0]), x.get("width", size[1])) for x, size in zip(batched_inputs, images.image_sizes)]


def _check_model(model) -> StandardROIHeads:
    roi_heads = getattr(model, "roi_heads", None)
    if not isinstance(model, GeneralizedRCNN) or not isinstance(roi_heads, StandardROIHeads):
        raise ValueError(
            f"need a GeneralizedRCNN with StandardROIHeads, got {type(model).__name__} with {type(roi_heads).__name__}"
        )
    if not isinstance(roi_heads.box_predictor, FastRCNNOutputLayers):  # cascade: one predictor per stage
        raise ValueError(
            f"{type(roi_heads).__name__} has no single FastRCNNOutputLayers box predictor "
            "(cascade heads are not supported)"
        )
    return roi_heads


@contextlib.contextmanager
def _eval_mode(model):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _proposals(image_size, boxes, device) -> Instances:
    tensor = boxes.tensor if isinstance(boxes, Boxes) else torch.as_tensor(boxes, dtype=torch.float32)
    if tensor.ndim != 2 or tensor.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) XYXY per image, got shape {tuple(tensor.shape)}")
    return Instances(image_size, proposal_boxes=Boxes(tensor.to(device=device, dtype=torch.float32)))


def _class_probs(roi_heads: StandardROIHeads, features, proposals: list[Instances]) -> list[torch.Tensor]:
    """The box branch of `StandardROIHeads._forward_box` up to the class scores: pool, box head, predictor."""
    box_features = roi_heads.box_pooler(
        [features[f] for f in roi_heads.box_in_features], [p.proposal_boxes for p in proposals]
    )
    predictions = roi_heads.box_predictor(roi_heads.box_head(box_features))
    return list(roi_heads.box_predictor.predict_probs(predictions, proposals))


def _mask_probs(roi_heads: StandardROIHeads, features, proposals, classes, output_sizes) -> list[torch.Tensor]:
    instances = [
        Instances(p.image_size, pred_boxes=p.proposal_boxes, pred_classes=c.to(p.proposal_boxes.device))
        for p, c in zip(proposals, classes)
    ]
    instances = roi_heads.forward_with_given_boxes(features, instances)  # pred_masks: (N, 1, M, M) of pred_classes
    return [_paste(inst, height, width) for inst, (height, width) in zip(instances, output_sizes)]


def _paste(instances: Instances, height: int, width: int) -> torch.Tensor:
    """(N, height, width) soft masks. paste_masks_in_image only returns binarized (or uint8) masks, so its
    sampler `_do_paste_mask` is called on the whole image; boxes are rescaled as detector_postprocess does
    (without its filter of empty boxes, which would misalign the rows)."""
    boxes = instances.pred_boxes.clone()
    boxes.scale(width / instances.image_size[1], height / instances.image_size[0])
    masks = instances.pred_masks
    if not len(masks):
        return masks.new_zeros((0, height, width))
    return torch.cat(
        [
            _do_paste_mask(m, b, height, width, skip_empty=False)[0]
            for m, b in zip(masks.split(_PASTE_CHUNK), boxes.tensor.split(_PASTE_CHUNK))
        ]
    )
