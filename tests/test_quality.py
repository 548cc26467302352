"""CI runs exactly the README's test command, and that command lints before it tests: ruff and mypy run
once there (in .ci/run), not inside pytest, and a lint failure still fails CI."""

from __future__ import annotations

import re

from tests.helpers import REPO

LINT = (".venv/bin/ruff check bot tests bench", ".venv/bin/mypy bot")


def readme_commands() -> tuple[str, str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# paperbot\n\n```sh\n"), "the README starts with the two commands"
    blocks = re.findall(r"```sh\n(.+?)\n```", readme, flags=re.DOTALL)
    return blocks[0], blocks[1]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    run_command, test_command = readme_commands()
    assert "paperbot serve" in run_command and "pytest" in test_command
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    ci_lines = [line for line in script.splitlines() if line and not line.startswith("#")]
    assert ci_lines[-1] == test_command
    assert "set -euo pipefail" in ci_lines, "a failing step must fail CI"


def test_the_test_command_lints_then_tests_and_stops_at_the_first_failure() -> None:
    _, test_command = readme_commands()
    steps = test_command.split(" && ")
    assert " ; " not in test_command and "||" not in test_command, "every step must be able to fail the command"
    for lint in LINT:
        assert lint in steps, f"{lint!r} is not a step of the README's test command"
    assert steps[-1] == ".venv/bin/python -m pytest"
    assert max(steps.index(lint) for lint in LINT) < len(steps) - 1
