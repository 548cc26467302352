"""Docs as tests: the README's command table is the CLI that argparse builds, and ``.env.example`` lists
exactly the settings bot/config.py reads. Both sides are derived from the code, so a new sub-command,
option or setting that is not documented (or a documented one that is gone) fails here."""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator, Mapping
from contextlib import suppress

import pytest

from bot.cli import build_parser
from bot.config import ConfigError, Settings
from tests.helpers import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = REPO / ".env.example"


# --- the command table ---------------------------------------------------------------------------------


def cli_commands() -> dict[str, tuple[set[str], list[str]]]:
    """Each sub-command argparse knows: its long options and its positional arguments' metavars."""
    parser = build_parser()
    (sub,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    commands: dict[str, tuple[set[str], list[str]]] = {}
    for name, command in sub.choices.items():
        options: set[str] = set()
        positionals: list[str] = []
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if action.option_strings:
                options.update(option for option in action.option_strings if option.startswith("--"))
            else:
                positionals.append(str(action.metavar or action.dest))
        commands[name] = (options, positionals)
    return commands


def readme_commands() -> dict[str, tuple[set[str], list[str]]]:
    """Each row of the README's "Commands" table: ``paperbot NAME`` with its options and positionals."""
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    commands: dict[str, tuple[set[str], list[str]]] = {}
    for row in re.findall(r"^\| `paperbot ([^`]+)` \|", section, flags=re.MULTILINE):
        name, *words = row.split()
        options = set(re.findall(r"--[a-z][a-z0-9-]*", row))
        # Metavars of options (``--limit N``) are not positionals: keep only words before the first option.
        first_option = next((i for i, word in enumerate(words) if word.lstrip("[").startswith("--")), len(words))
        positionals = [word.strip("[]").rstrip(".") for word in words[:first_option] if word.strip("[]").isupper()]
        assert name not in commands, f"the README lists `paperbot {name}` twice"
        commands[name] = (options, positionals)
    return commands


def test_the_readme_lists_every_sub_command_and_nothing_else() -> None:
    assert sorted(readme_commands()) == sorted(cli_commands())


@pytest.mark.parametrize("name", sorted(cli_commands()))
def test_each_readme_row_has_the_command_s_options_and_arguments(name: str) -> None:
    documented = readme_commands().get(name)
    assert documented is not None, f"`paperbot {name}` is missing from the README's command table"
    options, positionals = cli_commands()[name]
    assert documented[0] == options, f"`paperbot {name}` options: README {documented[0]}, argparse {options}"
    assert documented[1] == positionals, f"`paperbot {name}` arguments: README {documented[1]}, argparse {positionals}"


def test_the_table_check_sees_a_missing_option() -> None:
    row = "| `paperbot enrich [--limit N]` | … |"
    assert re.findall(r"--[a-z][a-z0-9-]*", row) == ["--limit"] != sorted(cli_commands()["enrich"][0])


# --- .env.example --------------------------------------------------------------------------------------


class _Recorder(Mapping[str, str]):
    """An empty environment that remembers every name looked up in it."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        raise KeyError(name)

    def get(self, name: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(name)
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def settings_read_at_run_time() -> set[str]:
    """Every setting a :class:`Settings` property or ``require_*`` method looks up, read from an empty
    environment (a missing required one raises after asking for it)."""
    recorder = _Recorder()
    settings = Settings(values=recorder)
    for name, member in vars(Settings).items():
        if name.startswith("_"):
            continue
        # A missing required setting raises ConfigError after being looked up.
        with suppress(ConfigError):
            if isinstance(member, property):
                getattr(settings, name)
            elif callable(member) and name.startswith("require_"):
                getattr(settings, name)()
    return recorder.asked


def settings_named_in_config_py() -> set[str]:
    """Every upper-case string literal bot/config.py passes to a call (``self._get("NAME")``)."""
    tree = ast.parse((REPO / "bot" / "config.py").read_text(encoding="utf-8"))
    return {
        arg.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for arg in node.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and re.fullmatch(r"[A-Z][A-Z0-9_]+", arg.value)
    }


def env_example_names() -> list[str]:
    """The variables ``.env.example`` sets or shows commented out (``NAME=`` or ``#NAME=default``)."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    return [m["name"] for line in lines if (m := re.match(r"^#?\s*(?P<name>[A-Z][A-Z0-9_]+)=", line))]


def test_env_example_lists_exactly_the_settings_config_reads() -> None:
    read = settings_read_at_run_time()
    assert read, "reading the settings looked up nothing"
    names = env_example_names()
    assert len(names) == len(set(names)), f".env.example lists a variable twice: {names}"
    assert set(names) == read | settings_named_in_config_py()


def test_every_setting_in_env_example_has_a_comment_above_it() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^#?\s*[A-Z][A-Z0-9_]+=", line):
            assert index > 0 and lines[index - 1].startswith("#"), f".env.example: no comment above {line!r}"
