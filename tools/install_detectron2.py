#!/usr/bin/env python
"""Install detectron2 into the current Python environment.

detectron2 is not on PyPI, so this script picks the first route that works:

1. ``import detectron2`` already works: do nothing.
2. Upstream git at a pinned commit (what users with internet get; builds detectron2's C++ ops).
   GitHub is probed first with a short timeout, so an offline machine moves on in seconds.
3. PyPI's ``sal-detectron2==0.7.2`` wheel (detectron2's main branch, mid-2024), repacked as a
   pure-Python ``py3-none-any`` distribution named ``detectron2`` (so ``pip show detectron2`` and
   ``pip uninstall detectron2`` work), without its cp310 ``_C`` extension and without the
   top-level ``tools`` package it carries (it would shadow a project's own ``tools``).
   noisy_seg never needs ``detectron2._C``.

If neither route works it exits non-zero with one message naming both.

    python tools/install_detectron2.py            # decide and install
    python tools/install_detectron2.py --dry-run  # print the route it would take
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

UPSTREAM_URL = "https://github.com/facebookresearch/detectron2.git"
UPSTREAM_COMMIT = os.environ.get("DETECTRON2_GIT_REF", "2dde706855d87baa9760fbcd0bdb6004a3937204")
FALLBACK_REQUIREMENT = "sal-detectron2==0.7.2"
FALLBACK_DIST = "sal_detectron2-0.7.2"
REPACKED_VERSION = "0.7.2"
PROBE_TIMEOUT_S = 15
# The upstream build compiles C++ ops; it is slow but finite.
UPSTREAM_BUILD_TIMEOUT_S = 45 * 60


def detectron2_importable(python: str) -> bool:
    """True if ``python -c 'import detectron2'`` succeeds."""
    return subprocess.run([python, "-c", "import detectron2"], capture_output=True).returncode == 0


def github_reachable(timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Cheap probe of the upstream repository; an offline machine fails in about a second."""
    try:
        result = subprocess.run(
            ["git", "ls-remote", UPSTREAM_URL, "HEAD"],
            capture_output=True,
            timeout=timeout_s,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (subprocess.TimeoutExpired, FileNotFoundError):
        return False
    return result.returncode == 0


def choose_route(importable: bool, upstream_ok: bool) -> str:
    """The installer's decision: 'present', 'upstream' or 'fallback' (tried in that order)."""
    if importable:
        return "present"
    return "upstream" if upstream_ok else "fallback"


def install_upstream(python: str) -> bool:
    spec = f"git+{UPSTREAM_URL}@{UPSTREAM_COMMIT}"
    print(f"[install_detectron2] building detectron2 from {spec}", flush=True)
    try:
        result = subprocess.run(
            [python, "-m", "pip", "install", "--no-build-isolation", spec],
            timeout=UPSTREAM_BUILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def _record_line(name: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [name, f"sha256={digest}", str(len(data))]


def repack_wheel(src_wheel: Path, out_dir: Path) -> Path:
    """Rewrite the cp310 sal-detectron2 wheel as a pure-Python ``detectron2`` py3-none-any wheel."""
    old_info = f"{FALLBACK_DIST}.dist-info/"
    new_info = f"detectron2-{REPACKED_VERSION}.dist-info/"
    out_path = out_dir / f"detectron2-{REPACKED_VERSION}-py3-none-any.whl"
    records: list[list[str]] = []
    with zipfile.ZipFile(src_wheel) as src, zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            if name.startswith("tools/") or (name.startswith("detectron2/_C") and name.endswith(".so")):
                continue
            if name == old_info + "RECORD":
                continue
            data = src.read(name)
            if name.startswith(old_info):
                name = new_info + name[len(old_info) :]
                if name.endswith("/METADATA"):
                    data = _rewrite_metadata(data.decode()).encode()
                elif name.endswith("/WHEEL"):
                    data = _rewrite_wheel_tags(data.decode()).encode()
                elif name.endswith("/top_level.txt"):
                    data = b"detectron2\n"
            dst.writestr(name, data)
            records.append(_record_line(name, data))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(records + [[new_info + "RECORD", "", ""]])
        dst.writestr(new_info + "RECORD", buf.getvalue())
    return out_path


def _rewrite_metadata(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith("Name:"):
            line = "Name: detectron2"
        elif line.startswith("Version:"):
            line = f"Version: {REPACKED_VERSION}"
        elif line.startswith("Requires-Dist: numpy<2"):
            # the pure-Python package runs with numpy 2; the pin only mattered for the cp310 _C build
            line = "Requires-Dist: numpy"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _rewrite_wheel_tags(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith("Tag:"):
            line = "Tag: py3-none-any"
        elif line.startswith("Root-Is-Purelib:"):
            line = "Root-Is-Purelib: true"
        lines.append(line)
    return "\n".join(lines) + "\n"


def install_fallback(python: str) -> bool:
    print(f"[install_detectron2] installing pure-Python detectron2 from PyPI's {FALLBACK_REQUIREMENT}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        download = subprocess.run(
            [
                python,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.10",
                FALLBACK_REQUIREMENT,
                "-d",
                str(tmp_dir),
            ],
        )
        wheels = sorted(tmp_dir.glob("sal_detectron2-*.whl"))
        if download.returncode != 0 or not wheels:
            return False
        repacked = repack_wheel(wheels[0], tmp_dir)
        result = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(repacked)])
    return result.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter whose environment gets detectron2")
    parser.add_argument("--dry-run", action="store_true", help="print the route and exit")
    parser.add_argument("--skip-upstream", action="store_true", help="go straight to the PyPI fallback")
    args = parser.parse_args(argv)

    importable = detectron2_importable(args.python)
    upstream_ok = False if (importable or args.skip_upstream) else github_reachable()
    route = choose_route(importable, upstream_ok)
    if args.dry_run or route == "present":
        print(f"[install_detectron2] route: {route}")
        return 0
    if route == "upstream" and install_upstream(args.python) and detectron2_importable(args.python):
        return 0
    if install_fallback(args.python) and detectron2_importable(args.python):
        return 0
    print(
        "error: could not install detectron2. Tried (1) upstream git "
        f"{UPSTREAM_URL}@{UPSTREAM_COMMIT} (needs GitHub access and a C++ toolchain) and "
        f"(2) PyPI's {FALLBACK_REQUIREMENT} wheel repacked as pure Python (needs PyPI access). "
        "Fix network access to one of them, or install detectron2 yourself and re-run.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
