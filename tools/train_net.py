#!/usr/bin/env python
"""`noisy-seg train` as a script in a checkout: the tool is noisy_seg/cli/train_net.py
(`--help` says what it does)."""

import sys

from noisy_seg.cli.train_net import cli
from noisy_seg.utils.errors import tool_exit_status

if __name__ == "__main__":
    sys.exit(tool_exit_status(cli))
