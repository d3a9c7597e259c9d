"""The documented Python snippets run as written: every ```python block of docs/python_api.md, in order, in one fresh
interpreter (later blocks use the names of earlier ones, as a reader's session would), and the README's quick start.
The blocks assert on what they compute, so a snippet that goes stale fails here with the line that broke."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# (file, section heading, at least this many blocks)
DOCS = [
    ("docs/python_api.md", "# Python API", 4),  # noise on records, a mapper, losses on logits, registering new ones
    ("README.md", "## Quick start", 1),
]

# Each block is compiled as "README.md" with its own line numbers, so a traceback points at the README line.
RUNNER = """
import json, sys
namespace = {"__name__": "__main__"}
for first_line, code in json.load(open(sys.argv[1])):
    try:
        exec(compile("\\n" * (first_line - 1) + code, sys.argv[2], "exec"), namespace)
    except BaseException:
        print(f"{sys.argv[2]}: the block starting at line {first_line} failed", file=sys.stderr)
        raise
print("ran", len(json.load(open(sys.argv[1]))), "blocks")
"""


def python_blocks(text: str, section: str):
    """[(first code line, code)] of the ```python blocks between `section` and the next heading of its level or
    above."""
    lines = text.splitlines()
    try:
        start = lines.index(section)
    except ValueError:
        raise AssertionError(f"no {section!r} heading") from None
    level = len(section) - len(section.lstrip("#"))
    blocks, code, first, other_fence = [], None, 0, False
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if code is None and not other_fence and re.match(rf"^#{{1,{level}}} ", line):
            break
        if code is None and line.strip() == "```python":
            code, first = [], number + 1
        elif code is not None and line.strip() == "```":
            blocks.append((first, "\n".join(code) + "\n"))
            code = None
        elif code is not None:
            code.append(line)
        elif line.startswith("```"):  # another language's block: its "# comments" are no headings
            other_fence = not other_fence
    assert code is None, f"the ```python block starting at line {first} is not closed"
    return blocks


@pytest.mark.parametrize("doc,section,at_least", DOCS)
def test_the_section_has_the_snippets(doc, section, at_least):
    blocks = python_blocks((REPO / doc).read_text(), section)
    assert len(blocks) >= at_least, f"{doc} {section!r}: {at_least}+ python blocks expected, {len(blocks)} found"
    for first, code in blocks:
        assert re.search(r"^\s*assert ", code, re.M), f"{doc} line {first}: a snippet should assert its result"


def test_the_extractor_stops_at_the_next_section():
    text = "intro\n## Python API\n```python\na = 1\n```\n### sub\n```python\nb = a\n```\n## Next\n```python\nc\n```\n"
    assert python_blocks(text, "## Python API") == [(4, "a = 1\n"), (8, "b = a\n")]
    assert python_blocks("# API\n```python\na\n```\n## sub\n```python\nb\n```\n", "# API") == [(3, "a\n"), (7, "b\n")]
    assert python_blocks("## Q\n```bash\n# a comment\n```\n```python\nc\n```\n", "## Q") == [(6, "c\n")]


@pytest.mark.parametrize("doc,section,at_least", DOCS)
@pytest.mark.slow
def test_the_snippets_run_as_written(tmp_path, doc, section, at_least):
    blocks = python_blocks((REPO / doc).read_text(), section)
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    env = dict(os.environ, NOISY_SEG_DATASETS=str(tmp_path / "datasets"), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp_path / "blocks.json"), doc],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"ran {len(blocks)} blocks" in result.stdout
