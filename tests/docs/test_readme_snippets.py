"""The README's "## Python API" snippets run as written: every ```python block of that section, in order, in one
fresh interpreter (later blocks use the names of earlier ones, as a reader's session would). The blocks assert on
what they compute, so a snippet that goes stale fails here with the README line that broke."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Python API"
MIN_BLOCKS = 4  # noise on records, a mapper in a trainer, losses on logits, registering a loss and a noise model

# Each block is compiled as "README.md" with its own line numbers, so a traceback points at the README line.
RUNNER = """
import json, sys
namespace = {"__name__": "__main__"}
for first_line, code in json.load(open(sys.argv[1])):
    try:
        exec(compile("\\n" * (first_line - 1) + code, sys.argv[2], "exec"), namespace)
    except BaseException:
        print(f"README.md: the Python API block starting at line {first_line} failed", file=sys.stderr)
        raise
print("ran", len(json.load(open(sys.argv[1]))), "blocks")
"""


def python_blocks(text: str, section: str = SECTION):
    """[(first code line, code)] of the ```python blocks between `section` and the next "## " heading."""
    lines = text.splitlines()
    try:
        start = lines.index(section)
    except ValueError:
        raise AssertionError(f"README.md has no {section!r} heading") from None
    blocks, code, first = [], None, 0
    for number, line in enumerate(lines[start + 1:], start=start + 2):
        if code is None and re.match(r"^## ", line):
            break
        if code is None and line.strip() == "```python":
            code, first = [], number + 1
        elif code is not None and line.strip() == "```":
            blocks.append((first, "\n".join(code) + "\n"))
            code = None
        elif code is not None:
            code.append(line)
    assert code is None, f"README.md: the ```python block starting at line {first} is not closed"
    return blocks


def test_the_section_has_the_snippets():
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= MIN_BLOCKS, f"{SECTION} should hold at least {MIN_BLOCKS} python blocks, has {len(blocks)}"
    for first, code in blocks:
        assert re.search(r"^\s*assert ", code, re.M), f"README.md line {first}: a snippet should assert its result"


def test_the_extractor_stops_at_the_next_section():
    text = "intro\n## Python API\n```python\na = 1\n```\n### sub\n```python\nb = a\n```\n## Next\n```python\nc\n```\n"
    assert python_blocks(text) == [(4, "a = 1\n"), (8, "b = a\n")]


def test_the_snippets_run_as_written(tmp_path):
    blocks = python_blocks(README.read_text())
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    env = dict(os.environ, NOISY_SEG_DATASETS=str(tmp_path / "datasets"), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path / "blocks.json"), str(README)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"ran {len(blocks)} blocks" in result.stdout
