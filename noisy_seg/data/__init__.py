"""detectron2 data glue: dataset registration (on import), noise mappers and input checks."""
from .datasets import builtin  # noqa: F401  (registers the toy-shapes datasets)
from .checks import check_datasets_available
from .mappers import NoisyDatasetMapper, NoisySemSegDatasetMapper

__all__ = ["check_datasets_available", "NoisyDatasetMapper", "NoisySemSegDatasetMapper"]
