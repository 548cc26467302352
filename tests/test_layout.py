"""The package layout holds: Slack stays at the edge, the domain never imports presentation, no module
imports itself through others, and posting a roundup from the CLI loads no listener.

Imports are read from the source (every ``import``, also inside functions), so a lazy import cannot hide
a dependency.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import SHIPPED_DIGEST
from tests.fakes.slack_api import FakeSlack
from tests.helpers import REPO, fake_slack_env

PACKAGE = REPO / "bot"

DOMAIN = (
    "bot.digest",
    "bot.search",
    "bot.arxiv",
    "bot.cite",
    "bot.watches",
    "bot.suggestions.model",
    "bot.outbox",
    "bot.db",
    "bot.config",
)
"""Modules that hold the rules and the data: they take a database and return plain values."""
PRESENTATION = ("bot.slack", "bot.suggestions.blocks", "bot.roundup.compose")
"""Modules that build or send Slack messages."""


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, name: str) -> Iterator[str]:
    """Every module ``path`` imports, absolute, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def graph() -> dict[str, set[str]]:
    """Module → the project modules it imports. A module's own parent packages are left out: Python
    imports them first whatever the module says, so they are not a dependency the module chose."""
    known = modules()
    return {
        name: {
            target
            for target in imports_of(path, name)
            if target in known and target != name and not name.startswith(target + ".") and f"{target}." not in name
        }
        for name, path in known.items()
    }


def test_only_the_slack_package_imports_slack() -> None:
    offenders = {
        name: sorted(target for target in imports_of(path, name) if within(target, ("slack_bolt", "slack_sdk")))
        for name, path in modules().items()
        if not within(name, ("bot.slack",))
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_domain_never_imports_presentation() -> None:
    offenders = {
        name: sorted(target for target in targets if within(target, PRESENTATION))
        for name, targets in graph().items()
        if within(name, DOMAIN)
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_import_cycles() -> None:
    edges = graph()
    # A package's __init__ is imported with each of its modules; only its own imports count as edges.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in sorted(edges.get(name, ())):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target] if target in trail else [name, target])
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_every_module_says_what_it_owns() -> None:
    missing = [name for name, path in modules().items() if not ast.get_docstring(ast.parse(path.read_text()))]
    assert missing == []


def test_posting_a_roundup_from_the_cli_loads_no_listener(fake: FakeSlack, tmp_path: Path) -> None:
    """``paperbot roundup --post`` talks to Slack through the Web API client only: no Bolt app, no listener."""
    db = tmp_path / "layout.db"
    probe = (
        "import json, sys\n"
        "from bot.cli import main\n"
        f"assert main(['load', '--no-enrich', {str(SHIPPED_DIGEST)!r}]) == 0\n"
        "code = main(['roundup', '--post', '--channel', 'C0LAYOUT'])\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('bot', 'slack')))\n"
        "print(json.dumps({'code': code, 'modules': loaded}))\n"
    )
    env = fake_slack_env(fake, db)
    result = subprocess.run(
        [sys.executable, "-c", f"import bot.roundup.post as p; p.PACE_SECONDS = 0.0\n{probe}"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, result.stderr
    loaded = report["modules"]
    assert "bot.slack.client" in loaded
    assert [m for m in loaded if m.startswith(("bot.slack.listeners", "bot.slack.app", "slack_bolt"))] == []
