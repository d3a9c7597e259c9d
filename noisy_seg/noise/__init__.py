"""Label-noise models as plain numpy functions (no detectron2 import).

Every random decision is a pure function of (seed, image key, annotation key, stream), see
``keyed_random``, and an annotation's key comes from its content (``annotation_keys``); so on-the-fly noise (``NoisePipeline``, one image at a time) and the offline
tool (``apply_noise_to_coco``, all annotations at once) give identical noisy datasets.
"""

from .class_noise import (
    AsymmetricNoise,
    ClassNoise,
    PairFlipNoise,
    SymmetricNoise,
    TransitionMatrixNoise,
    symmetric,
)
from .coco_io import NoiseReport, apply_noise_to_coco, category_index, cityscapes_to_coco
from .instance_dependent import InstanceDependentNoise, instance_features
from .annotation_keys import annotation_keys, content_keys
from .keyed_random import image_key, image_keys, keyed_standard_normal, keyed_uniform, keyed_uniform_at
from .mask_noise import OP_NAMES, SpatialNoise
from .missing_annotations import MissingAnnotationNoise
from .pipeline import NoisePipeline
from .presets import COCO_N_PRESETS, spatial_preset
from .registry import build_class_noise, build_noise, build_semantic_noise
from .semantic_noise import SemanticNoise
from .transition import realized_transition_matrix

__all__ = [
    "AsymmetricNoise",
    "COCO_N_PRESETS",
    "ClassNoise",
    "InstanceDependentNoise",
    "MissingAnnotationNoise",
    "NoisePipeline",
    "NoiseReport",
    "OP_NAMES",
    "PairFlipNoise",
    "SemanticNoise",
    "SpatialNoise",
    "SymmetricNoise",
    "TransitionMatrixNoise",
    "annotation_keys",
    "apply_noise_to_coco",
    "build_class_noise",
    "build_noise",
    "build_semantic_noise",
    "category_index",
    "cityscapes_to_coco",
    "content_keys",
    "image_key",
    "image_keys",
    "instance_features",
    "keyed_standard_normal",
    "keyed_uniform",
    "keyed_uniform_at",
    "realized_transition_matrix",
    "spatial_preset",
    "symmetric",
]
