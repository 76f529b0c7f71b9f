"""The README's Python example runs as written, over the seeds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT, cli_env


def test_the_python_example_answers_with_citations(tmp_path: Path) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    [example] = re.findall(r"```python\n(.*?)```", readme, re.S)
    env = {**os.environ, **cli_env(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", example], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    first, *sources = result.stdout.splitlines()
    assert "[1]" in first and "Microsoft" in first
    assert sources and sources[0].startswith("[1] ") and ".txt" in sources[0]
