"""The README's "Try it" is `scripts/try-it`, run here as a user would run it: a real server,
curl and the CLI, from the repository's root. It needs no model: the workflow is two code
nodes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_readme_points_at_the_script() -> None:
    assert "scripts/try-it" in (ROOT / "README.md").read_text()


def test_try_it_runs_every_transport_to_completion() -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "try-it")],
        cwd=ROOT,
        env={**os.environ, "TRY_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[lines.index("sync:") + 1] == '{"text": "HI", "chars": 2}'
    assert lines[lines.index("async, then a long poll:") + 1] == "completed"
    assert "  task_finished completed" in lines
    assert 'result: {"text": "STREAM", "chars": 6}' in lines
    assert '"FROM THE CLI"' in done.stdout
