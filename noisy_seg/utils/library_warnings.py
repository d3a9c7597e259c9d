"""Deprecation chatter from libraries that a user of the tools cannot act on; silenced before they are imported,
so tool output (and an error's one line) stays readable. The test suite filters the same ones (pytest.ini)."""

import warnings

# (message regex, category): torch warns on detectron2's import-time torch.jit.script; detectron2.model_zoo
# imports pkg_resources
LIBRARY_WARNINGS = (
    (r".*torch\.jit\.script.*deprecated", FutureWarning),
    (r"pkg_resources is deprecated", UserWarning),
)


def quiet_library_warnings() -> None:
    for message, category in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
