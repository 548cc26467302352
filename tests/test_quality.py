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


def test_ci_runs_exactly_the_readme_test_command() -> None:
    import re

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.+?)\n```", readme, flags=re.DOTALL)
    assert readme.startswith("# paperbot\n\n```sh\n"), "the README starts with the two commands"
    run_command, test_command = blocks[0], blocks[1]
    assert "paperbot serve" in run_command and "pytest" in test_command
    ci_lines = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci_lines[-1] == test_command
