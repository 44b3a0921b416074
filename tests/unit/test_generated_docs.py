"""docs/api-reference.md and docs/configuration.md are what `make docs` writes from the code:
a route or setting added without regenerating them fails here (and in scripts/check)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_pages_match_the_code() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_every_setting_is_in_the_configuration_page() -> None:
    from taskloom.config import Settings

    page = (ROOT / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"TASKLOOM_{name.upper()}" in page or name.endswith("_api_key"), name


def test_no_file_points_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = ("API.md", "DESIGN.md", "STYLE.md", "BENCHMARKS.md", "../shared")
    offenders = [
        path
        for path in tracked
        if path.endswith((".py", ".md", ".toml", ".yaml"))
        and path != "tests/unit/test_generated_docs.py"  # the names it looks for
        and any(ref in (ROOT / path).read_text(errors="replace") for ref in outside)
    ]
    assert offenders == []
