"""detectron2's Cityscapes instance evaluator, made to run with numpy 2 and to write nothing to the cwd.

cityscapesscripts 2.3 json-dumps numpy integers with `default=o.__dict__` (numpy 2 scalars have no
__dict__, so it crashes) and writes `matches.json` into the working directory.
"""

from __future__ import annotations

import contextlib
import json
import os

import numpy as np

from detectron2.evaluation import CityscapesInstanceEvaluator as _D2CityscapesInstanceEvaluator

from ..utils.files import write_atomic


def _to_json(obj):
    return obj.item() if isinstance(obj, np.generic) else obj.__dict__


@contextlib.contextmanager
def _numpy_safe_json_writer(module, out_dir: str):
    original = module.writeDict2JSON

    def write(data, file_name):
        path = file_name if os.path.isabs(file_name) else os.path.join(out_dir, file_name)
        write_atomic(path, json.dumps(data, default=_to_json, sort_keys=True, indent=4))

    module.writeDict2JSON = write
    try:
        yield
    finally:
        module.writeDict2JSON = original


class CityscapesInstanceEvaluator(_D2CityscapesInstanceEvaluator):
    """Same results as detectron2's `CityscapesInstanceEvaluator`; see the module docstring for why."""

    def evaluate(self):
        import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as cityscapes_eval

        with _numpy_safe_json_writer(cityscapes_eval, self._temp_dir):
            return super().evaluate()
