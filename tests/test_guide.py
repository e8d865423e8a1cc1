"""Every `sts` command in the user guide (docs/*.md) runs and does what the guide says.

Each chapter runs in a folder of its own with an empty ledger, its commands in
the order they appear in its ``sh`` blocks, in process through click's
CliRunner (a real process per command would take minutes). The rules, stated
in docs/README.md too:

- ```` ```json file=NAME ```` blocks are written to the folder first;
- ``export NAME=VALUE`` lines set the environment of the commands after them;
- a command must exit 0, unless its comment says ``exit N``; a comment
  ``shows "TEXT"`` requires TEXT in its output;
- a token keyed into a simulated meter (``sts meter enter FILE DIGITS``) whose
  digits no earlier command printed is replaced by the next token the last
  vend printed, the same one each time it is typed again (tokens carry the
  clock's TID and random bits);
- lines that are not ``sts`` commands must be one of the few set-up commands
  the guide shows (``pip install``); any other line fails the test, so nothing
  in a guide block goes unchecked.
"""

from __future__ import annotations

import html
import importlib.util
import re
import shlex
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CHAPTERS = sorted(p.name for p in DOCS.glob("*.md"))
FENCE = re.compile(r"^[ \t]*```(\S*)([^\n]*)\n(.*?)^[ \t]*```", re.M | re.S)
GROUPED = re.compile(r"\b\d{4}(?: \d{4}){4}\b")
SET_UP = ("pip install",)
#: What every chapter starts from: no user settings leak in from the test's environment.
BASE_ENV = {
    "STS_DATABASE_URL": None,
    "STS_MASTER_KEY": None,
    "STS_MASTER_KEY_FILE": None,
}


@dataclass
class Command:
    line: str
    args: list[str]
    stdin: str | None = None
    exit_code: int = 0
    stdin_file: str | None = None  # `cat FILE | sts ...`: read when the command runs
    env: dict[str, str] = field(default_factory=dict)
    shows: list[str] = field(default_factory=list)


def _lines(block: str) -> list[str]:
    """Shell lines of a block, backslash continuations joined."""
    joined, current = [], ""
    for raw in block.splitlines():
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        joined.append(current + raw)
        current = ""
    return [line.strip() for line in joined if line.strip()]


def _command(line: str) -> Command | tuple[str, str] | None:
    """A `sts` command, an ('export', NAME=VALUE) pair, or None for a set-up line."""
    code, _, comment = line.partition("  #")
    code = code.strip()
    if code.startswith("export "):
        return ("export", code.removeprefix("export ").strip())
    if code.startswith(SET_UP):
        return None
    completion = re.fullmatch(r'eval "\$\(_STS_COMPLETE=(\w+) sts\)"', code)
    if completion:  # the shell completion script: click prints it for this variable
        return Command(line, [], env={"_STS_COMPLETE": completion.group(1)}, shows=["sts"])
    stdin = None
    piped = re.fullmatch(r"printf '([^']*)' \| (sts .*)", code)
    if piped:
        stdin, code = piped.group(1).replace("\\n", "\n"), piped.group(2)
    cat = re.fullmatch(r"cat (\S+) \| (sts .*)", code)
    stdin_file = None
    if cat:
        stdin_file, code = cat.group(1), cat.group(2)
    assert code.startswith("sts "), f"guide line is not an sts command: {line!r}"
    command = Command(line, shlex.split(code)[1:], stdin, stdin_file=stdin_file)
    exit_code = re.search(r"\bexit (\d+)", comment)
    if exit_code:
        command.exit_code = int(exit_code.group(1))
    command.shows = re.findall(r'shows "([^"]+)"', comment)
    return command


def _chapter(name: str) -> tuple[dict[str, str], list[Command | tuple[str, str]]]:
    text = (DOCS / name).read_text(encoding="utf-8")
    files: dict[str, str] = {}
    steps: list[Command | tuple[str, str]] = []
    for info, attributes, body in FENCE.findall(text):
        written = re.search(r"\bfile=(\S+)", attributes)
        body = textwrap.dedent(body)
        if written:
            files[written.group(1)] = body
        elif info == "sh":
            for line in _lines(body):
                step = _command(line)
                if step is not None:
                    steps.append(step)
    return files, steps


def test_every_chapter_is_linked_from_the_guide_index_and_the_readme() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for name in CHAPTERS:
        if name != "README.md":
            assert f"({name})" in index, f"docs/README.md does not link {name}"
    assert "docs/README.md" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", CHAPTERS)
def test_no_command_line_escapes_the_runner(name: str) -> None:
    # Every line of the chapter that starts a command (however indented) is one that runs.
    text = (DOCS / name).read_text(encoding="utf-8")
    lead = r"(?:printf '[^']*' \| |cat \S+ \| |eval \"\$\(_STS_COMPLETE=\w+ )?"
    starts = re.findall(r"^[ \t]*" + lead + r"sts(?: [a-z-]|\))", text, re.M)
    _, steps = _chapter(name)
    assert len(starts) == sum(isinstance(step, Command) for step in steps)


@pytest.mark.parametrize("name", CHAPTERS)
def test_the_guide_runs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files, steps = _chapter(name)
    for file_name, body in files.items():
        (tmp_path / file_name).write_text(body, encoding="utf-8")
    (tmp_path / "tests").symlink_to(ROOT / "tests")  # the repository's vector files
    monkeypatch.chdir(tmp_path)
    env: dict[str, str | None] = dict(BASE_ENV)
    printed = ""
    sold: list[str] = []
    stands_for: dict[str, str] = {}  # a token in the guide -> the one the vend printed
    runner = CliRunner()
    for step in steps:
        if isinstance(step, tuple):
            name_, _, value = step[1].partition("=")
            env[name_] = value
            continue
        args = list(step.args)
        if args[:2] == ["meter", "enter"]:  # key in what the last vend really sold
            typed = " ".join(a for a in args[3:] if a.isdigit() and len(a) == 4)
            if typed and typed not in printed:
                if typed not in stands_for:
                    assert sold, f"{step.line}: no vend printed a token to key in"
                    stands_for[typed] = sold.pop(0)
                args = [*args[:3], *stands_for[typed].split(), *args[3 + len(typed.split()) :]]
        stdin = step.stdin
        if step.stdin_file is not None:
            stdin = Path(step.stdin_file).read_text(encoding="utf-8")
        result = runner.invoke(main, args, input=stdin, env=env | step.env, prog_name="sts")
        output = result.output
        assert result.exit_code == step.exit_code, f"{name}: {step.line}\n{output}"
        for text in step.shows:
            assert text in output, f"{name}: {step.line} does not show {text!r}\n{output}"
        if args[:1] in (["vend"], ["keychange"]) and result.exit_code == 0:
            sold = GROUPED.findall(result.stdout)
        printed += output


def test_the_keypad_picture_is_the_applications_own() -> None:
    spec = importlib.util.spec_from_file_location("guide_pictures", DOCS / "pictures.py")
    assert spec is not None and spec.loader is not None
    pictures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pictures)
    made = pictures.keypad_svg()
    stored = (DOCS / "keypad.svg").read_text(encoding="utf-8")
    for svg in (made, stored):
        shown = html.unescape(svg).replace("\xa0", " ")
        assert "Accept  +25.5 kWh" in shown and "Enter" in shown and "Clear" in shown
    assert "(keypad.svg)" in (DOCS / "simulated-meter.md").read_text(encoding="utf-8")
