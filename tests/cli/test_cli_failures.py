"""The CLI never shows a traceback (issue 16): every command, found by walking the typer app (so
a command added later is walked too), run in a clean folder with no store, with a bad option and
with a bad store URL, fails with one line and a non-zero exit, and a command that only reads
leaves no `custody.db` behind. `--debug` shows the traceback for developers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from custody_cli import app
from custody_cli.output import DEBUG

runner = CliRunner()
NO_LEDGER = "custody: no ledger at sqlite:///custody.db: run `custody init` or pass --db\n"
CREATES_A_STORE = {"init", "restore", "demo"}
"""The commands that may create a store; every other one reads one that exists."""
JUNK = {int: "1", float: "1", datetime: "2026-01-01"}


@pytest.fixture(autouse=True)
def clean(in_tmp: Path) -> Iterator[Path]:
    yield in_tmp
    DEBUG["on"] = False


def commands() -> Iterator[tuple[list[str], Any]]:
    """(the words that name it, the command) for every leaf command of the app."""

    def walk(words: list[str], command: Any) -> Iterator[tuple[list[str], Any]]:
        children = getattr(command, "commands", None)
        if children is None:
            yield words, command
            return
        for name, child in sorted(children.items()):
            yield from walk([*words, name], child)

    yield from walk([], typer.main.get_command(app))


def required_args(command: Any) -> list[str]:
    """A value for every required argument and option: plausible, naming nothing that exists."""
    args: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        value = JUNK.get(param.type_descriptor.annotation, "missing-thing")
        args += [value] if param.param_type_name == "argument" else [param.opts[0], value]
    return args


def no_traceback(result: Any) -> str:
    text = str(result.output)  # stdout and stderr
    assert "Traceback" not in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return text


COMMANDS = list(commands())
NAMES = [" ".join(words) for words, _ in COMMANDS]


def test_the_walk_finds_every_command() -> None:
    assert len(COMMANDS) >= 19
    assert {"init", "report unaccounted", "token create", "submit", "verify"} <= set(NAMES)


@pytest.mark.parametrize(("words", "command"), COMMANDS, ids=NAMES)
def test_a_command_in_a_clean_folder_fails_in_one_line_and_creates_no_store(
    clean: Path, words: list[str], command: Any
) -> None:
    # demo builds 3,000 items and serves them: one item, not served
    extra = ["--items", "1", "--no-serve", "--dir", "demo"] if words == ["demo"] else []

    result = runner.invoke(app, [*words, *required_args(command), *extra])

    text = no_traceback(result)
    if words[0] not in CREATES_A_STORE and words[-1] not in ("keygen", "witness-keygen"):
        assert result.exit_code != 0, text
        assert len(text.strip().splitlines()) == 1, text
        assert text.startswith("custody: "), text
    if words[0] not in CREATES_A_STORE:
        assert not (clean / "custody.db").exists(), text


@pytest.mark.parametrize(("words", "command"), COMMANDS, ids=NAMES)
def test_a_command_with_a_bad_option_or_a_bad_store_url_fails_without_a_traceback(
    words: list[str], command: Any
) -> None:
    unknown = runner.invoke(app, [*words, *required_args(command), "--no-such-option"])
    has_db = any("--db" in p.opts for p in command.params)
    bad_url = runner.invoke(app, [*words, *required_args(command), "--db", "nope://x"])

    no_traceback(unknown)
    assert unknown.exit_code == 2
    if has_db:
        assert "custody: " in no_traceback(bad_url)
        assert bad_url.exit_code != 0


def test_a_read_command_without_a_store_names_the_fix_and_leaves_no_file(clean: Path) -> None:
    result = runner.invoke(app, ["token", "list"])

    assert result.exit_code == 1
    assert (
        result.output
        == "custody: no ledger at sqlite:///custody.db: run `custody init` or pass --db\n"
    )
    assert list(clean.iterdir()) == []


def test_a_missing_signing_key_names_the_key_option_and_the_variable(clean: Path) -> None:
    assert runner.invoke(app, ["init", "--key", "ledger.key"]).exit_code == 0

    missing = runner.invoke(app, ["verify"])
    given = runner.invoke(app, ["verify", "--key", "ledger.key"])

    assert missing.exit_code == 1
    assert missing.output == (
        "custody: no signing key at custody.key: pass --key FILE or set CUSTODY_KEY to the key"
        " `custody init` wrote\n"
    )
    assert given.exit_code == 0, given.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token", ""], "custody: no token: pass --token or set CUSTODY_TOKEN"),
        (["--token", "t", "--data", "{bad"], "custody: --data is not valid JSON (Expecting"),
        (["--token", "t", "--data", "[1]"], "custody: --data must be a JSON object"),
        (
            ["--token", "t", "--server", "http://127.0.0.1:9"],
            "custody: cannot reach http://127.0.0.1:9",
        ),
    ],
)
def test_submit_fails_in_one_line_without_a_token_with_bad_json_or_with_no_server(
    clean: Path, args: list[str], message: str
) -> None:
    assert runner.invoke(app, ["keygen", "--party", "unit-1", "-o", "p.key"]).exit_code == 0

    result = runner.invoke(app, ["submit", "inspect", "x", "--key", "p.key", *args])

    assert result.exit_code == 1
    assert result.output.startswith(message), result.output
    assert len(result.output.splitlines()) == 1


def test_debug_shows_the_traceback(clean: Path) -> None:
    result = runner.invoke(app, ["--debug", "token", "list"])

    assert result.exit_code == 1
    assert "no ledger at sqlite:///custody.db" in str(result.exception)


def test_the_installed_command_prints_one_line_on_stderr_and_exits_1(clean: Path) -> None:
    """As a user runs it: a real process, no store, nothing left behind."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "custody_cli",
            "report",
            "unaccounted",
            "--as-of",
            "2026-06-30",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    assert (
        done.stderr
        == "custody: no ledger at sqlite:///custody.db: run `custody init` or pass --db\n"
    )
    assert list(clean.iterdir()) == []
