#!/usr/bin/env python
"""`noisy-seg export-issues` as a script in a checkout: the tool is noisy_seg/cli/export_issues.py
(`--help` says what it does)."""

import sys

from noisy_seg.cli.export_issues import main
from noisy_seg.utils.errors import tool_exit_status

if __name__ == "__main__":
    sys.exit(tool_exit_status(main))
