"""Label-noise models (no torch, no detectron2: numpy, OpenCV, SciPy, shapely, pycocotools).

Every random decision is a pure function of (seed, image key, annotation key, stream), see ``keyed_random``,
and an annotation's key comes from its content (``annotation_keys``). One algorithm (``NoisePipeline.decide``)
serves on-the-fly noise (one image at a time, in the mapper) and the offline tool (``apply_noise_to_coco``,
a whole dataset at once), so both give identical noisy datasets. Models are built by name from one registry
(``registry``): spec dicts, short names like ``sym40`` and the offline tool's flags all resolve to it.
"""

import importlib
import pkgutil

from .class_noise import (
    AsymmetricNoise,
    ClassNoise,
    PairFlipNoise,
    SymmetricNoise,
    TransitionMatrixNoise,
)
from .instance_dependent import InstanceDependentNoise, instance_features
from .mask_noise import OP_NAMES, SpatialNoise
from .missing_annotations import MissingAnnotationNoise
from .semantic_noise import SemanticNoise
from .boundary_noise import BoundaryNoise
from .annotation_keys import annotation_keys, content_keys
from .coco import apply_noise_to_coco, category_index
from .keyed_random import image_key, image_keys, keyed_standard_normal, keyed_uniform, keyed_uniform_at, record_image_id
from .pipeline import NoiseDecisions, NoisePipeline
from .presets import COCO_N_PRESETS, spatial_preset
from .registry import (
    NOISE_REGISTRY,
    build_class_noise,
    build_noise,
    build_semantic_noise,
    named_noise_spec,
    noise_spec,
    register_noise,
    spec_keys,
)
from .report import NoiseReport
from .transition import realized_transition_matrix

__all__ = [
    "AsymmetricNoise",
    "BoundaryNoise",
    "COCO_N_PRESETS",
    "ClassNoise",
    "InstanceDependentNoise",
    "MissingAnnotationNoise",
    "NOISE_REGISTRY",
    "NoiseDecisions",
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
    "content_keys",
    "image_key",
    "image_keys",
    "instance_features",
    "keyed_standard_normal",
    "keyed_uniform",
    "keyed_uniform_at",
    "named_noise_spec",
    "noise_spec",
    "realized_transition_matrix",
    "record_image_id",
    "register_noise",
    "spec_keys",
    "spatial_preset",
]

# Every module of this package is imported, so a noise model registers itself by existing: a new model is one
# file with its register_noise(...) line, and nothing else to edit.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
