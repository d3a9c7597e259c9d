#!/usr/bin/env python
"""`noisy-seg label-error-over-seeds` as a script in a checkout: the runner is
noisy_seg/cli/label_error_over_seeds.py (`--help` says what it does)."""

import sys

from noisy_seg.cli.label_error_over_seeds import main
from noisy_seg.utils.errors import tool_exit_status

if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
