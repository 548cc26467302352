"""The code base stays ruff- and mypy-clean: run both as part of the suite, as CI does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "bot", "tests", "bench"],
        ["mypy", "bot"],
    ],
    ids=["ruff", "mypy"],
)
def test_static_checks(command: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
