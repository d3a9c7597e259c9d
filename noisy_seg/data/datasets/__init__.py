"""Data sets: the built-in toy-shapes generator (numpy only) and its detectron2 registration.

The registration lives in ``builtin`` and runs when ``noisy_seg.data`` is imported; importing this
package alone does not need detectron2.
"""

from . import toy_shapes
from .toy_shapes import *  # noqa: F401,F403  (the generator's public API, listed in its __all__)

__all__ = list(toy_shapes.__all__)
