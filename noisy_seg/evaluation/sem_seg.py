"""detectron2's SemSegEvaluator, made to run with numpy 2: its default label loader calls
`np.array(image, copy=False)`, which numpy 2 refuses for a PIL image. Same metrics (mIoU, fwIoU, per-class IoU
and accuracy), the same label files, read with a copy."""

from __future__ import annotations

import numpy as np
from PIL import Image

from detectron2.evaluation import SemSegEvaluator as _D2SemSegEvaluator
from detectron2.utils.file_io import PathManager


def load_label_map(filename: str, dtype=None) -> np.ndarray:
    with PathManager.open(filename, "rb") as f:
        return np.asarray(Image.open(f), dtype=dtype)


class SemSegEvaluator(_D2SemSegEvaluator):
    """detectron2's `SemSegEvaluator` with a numpy-2-safe label loader (see the module docstring)."""

    def __init__(
        self,
        dataset_name,
        distributed=True,
        output_dir=None,
        *,
        sem_seg_loading_fn=load_label_map,
        num_classes=None,
        ignore_label=None,
    ):
        super().__init__(
            dataset_name,
            distributed,
            output_dir,
            sem_seg_loading_fn=sem_seg_loading_fn,
            num_classes=num_classes,
            ignore_label=ignore_label,
        )
