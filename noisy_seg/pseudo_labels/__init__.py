"""Pseudo labels from a trained model: corrected instance labels and semantic label maps."""

from .semantic import DEFAULT_SCALES, generate_pseudo_labels, multiscale_logits, pseudo_label_from_logits

__all__ = ["DEFAULT_SCALES", "generate_pseudo_labels", "multiscale_logits", "pseudo_label_from_logits"]
