"""Every command the user guide (docs/*.md) shows runs, and prints what the guide says it prints.

Each page's ```sh blocks are read in order and run in a fresh temporary folder,
with a temporary SQLite ledger (``STS_DATABASE_URL``) and master key
(``STS_MASTER_KEY``) in the environment, so a page is a script a new user could
follow from an empty folder (which holds a copy of ``tests/vectors``, as the root
of a clone does):

* ``sts ...`` lines run through click's CliRunner; the commands named in
  :data:`REAL_PROCESSES` (the quick start's demo, vend and token entry) run as
  real processes of the installed ``sts`` command. A line ending in ``\\``
  continues on the next; ``a && b`` runs both.
* A trailing ``# exits N`` says the command is expected to exit with N (a refused
  token, a bad amount); every other command must exit 0. ``# interactive``
  marks a command that opens a screen (``sts meter keypad``), and ``# runs until
  stopped`` a server shown in one of its variants: their command lines are
  parsed by click, not run (the keypad screen itself is driven in
  :func:`test_keypad_screenshot_shows_an_accepted_token`).
* ``sts meter serve ... &`` starts a server in the background, as a real
  process: the test reads the line naming its port and stops it (SIGTERM) when
  the page ends, when it must exit 0 having saved its meter. The page's port
  (``--port``, default 4059) is really a free one (``--port 0``); a later
  ``127.0.0.1:4059`` on the page stands for the port really served, as tokens
  do below.
* ``NAME=value sts ...`` runs with that environment variable; ``sts ... > FILE``
  writes the command's output to FILE.
* ``export NAME=value`` sets a variable for the page's later commands (a
  ``postgresql://`` database URL becomes a fresh database on the test's
  PostgreSQL server, ``STS_TEST_POSTGRES_URL``; without one the test is skipped
  there, after the page's SQLite part has run), and
  ``cat > FILE <<'EOF'`` ... ``EOF`` writes a file (a tariff, a meter set-up).
* ``pip install`` and ``python -m pytest`` (the README's two commands) are not
  run here: ``.ci/run`` runs them on a fresh clone. Any other command fails the
  test, so the guide cannot show what this test does not run.

A ```text block right after a ```sh block shows the output of that block's last
command. Each of its lines (box-drawing characters and runs of spaces aside)
must be found, in order, in what the command printed; a line ``...`` stands for
lines left out. A token (20 digits, grouped or not) and a date-time in the
shown output match any token and time, since both come from the clock and the
random number generator. A token shown in an output stands for the token really
printed there, wherever a later command of the page uses it (``sts meter enter
meter.json 3289 2659 ...`` keys in the token the vend really made); the same
shown token printed twice (a reprint) must be the same real token both times.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import _empty

import cli

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGES = sorted(path.name for path in DOCS.glob("*.md"))
REAL_PROCESSES = {"quickstart.md": ("sts demo", "sts vend credit", "sts meter enter")}
"""Commands (by their first words) that run as processes of the installed ``sts`` command:
the first vend, as a new user makes it. The rest run in this process (each ``sts``
process spends a second or more starting up)."""
NOT_RUN = {("pip", "install"), ("python", "-m")}
"""The README's install and test commands, which .ci/run runs on a fresh clone."""
MASTER_KEY = "5A" * 32

_BOX = re.compile(r"[\u2500-\u259f]")
_TOKEN = re.compile(r"(?<![\d:])(?:\d{4} \d{4} \d{4} \d{4} \d{4}|\d{20})(?!\d)")
_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?: ?(?:[+-]\d{2}:?\d{2}|Z))?"
)
_EXITS = re.compile(r"\bexits (\d)\b")


# --- reading a page ------------------------------------------------------------------------


@dataclass
class Command:
    """One command line of a page, with what it must do."""

    line: int
    text: str
    exits: int = 0
    interactive: bool = False  # parsed only: a screen, or a server's variant
    background: bool = False  # a server, run until the page ends
    shown: list[str] | None = None  # the output the guide shows, if any


@dataclass
class WriteFile:
    line: int
    name: str
    text: str


@dataclass
class Export:
    line: int
    name: str
    value: str


Step = Command | WriteFile | Export


def _split_comment(text: str) -> tuple[str, str]:
    """(command, comment): the comment starts at an unquoted '#' after a space."""
    quote = ""
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1].isspace()):
            return text[:index].rstrip(), text[index + 1 :].strip()
    return text.rstrip(), ""


def _blocks(page: str) -> list[tuple[str, int, list[str], bool]]:
    """(language, first line number, lines, whether only blank lines part it from the
    block before) of each fenced block."""
    blocks = []
    lines = (DOCS / page).read_text("utf-8").splitlines()
    index = 0
    after_last = 0
    while index < len(lines):
        opening = re.match(r"^```(\w*)\s*$", lines[index])
        if opening is None:
            index += 1
            continue
        adjacent = bool(blocks) and not any(line.strip() for line in lines[after_last:index])
        start = index + 1
        index = start
        while index < len(lines) and lines[index].strip() != "```":
            index += 1
        blocks.append((opening.group(1), start + 1, lines[start:index], adjacent))
        index += 1
        after_last = index
    return blocks


def read_steps(page: str) -> list[Step]:
    """The page's steps in order, each output block attached to the command before it."""
    steps: list[Step] = []
    last_language = ""
    for language, first, lines, adjacent in _blocks(page):
        if language == "text":
            assert adjacent and last_language == "sh", (
                f"{page}:{first}: an output block must come right after a ```sh block"
            )
            last = steps[-1] if steps else None
            assert isinstance(last, Command), f"{page}:{first}: an output block follows no command"
            last.shown = lines
        last_language = language
        if language != "sh":
            continue
        index = 0
        while index < len(lines):
            number = first + index
            text = lines[index]
            index += 1
            heredoc = re.match(r"^cat > (\S+) <<'(\w+)'$", text.strip())
            if heredoc:
                name, end = heredoc.groups()
                body = []
                while lines[index].strip() != end:
                    body.append(lines[index])
                    index += 1
                index += 1
                steps.append(WriteFile(number, name, "\n".join(body) + "\n"))
                continue
            while text.rstrip().endswith("\\"):
                text = text.rstrip()[:-1] + " " + lines[index].strip()
                index += 1
            command, comment = _split_comment(text.strip())
            if not command:
                continue
            exported = re.match(r"^export (\w+)=(.*)$", command)
            if exported:
                value = shlex.split(exported.group(2))
                steps.append(Export(number, exported.group(1), value[0] if value else ""))
                continue
            exits = _EXITS.search(comment)
            background = command.endswith(" &")
            steps.append(
                Command(
                    number,
                    command.removesuffix(" &") if background else command,
                    int(exits.group(1)) if exits else 0,
                    "interactive" in comment or "runs until stopped" in comment,
                    background,
                )
            )
    return steps


# --- running a page ------------------------------------------------------------------------


@dataclass
class Page:
    """A page being run: its folder, environment and the tokens seen so far."""

    name: str
    folder: Path
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)  # shown digits -> real digits
    ports: dict[str, str] = field(default_factory=dict)  # the page's port -> the served one
    servers: list[subprocess.Popen[str]] = field(default_factory=list)

    def real_tokens(self, text: str) -> str:
        """``text`` with every token shown earlier replaced by the one really printed, and
        every ``127.0.0.1:PORT`` of a server started earlier by the port it really serves."""
        text = re.sub(
            r"\b127\.0\.0\.1:(\d+)\b",
            lambda m: f"127.0.0.1:{self.ports.get(m.group(1), m.group(1))}",
            text,
        )

        def swap(match: re.Match[str]) -> str:
            shown = match.group(0).replace(" ", "")
            real = self.tokens.get(shown, shown)
            if " " in match.group(0):
                return " ".join(real[i : i + 4] for i in range(0, 20, 4))
            return real

        return _TOKEN.sub(swap, text)


def _sts_program() -> list[str]:
    script = Path(sys.executable).with_name("sts")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import cli; cli.main(prog_name='sts')"]


def _parse_only(args: list[str]) -> None:
    """Parse a command line as click would, down to the command's options, without running it."""
    command: click.Command | None = cli.main
    name: str | None = "sts"
    parent: click.Context | None = None
    rest = list(args)
    while isinstance(command, click.Group):
        context = click.Context(command, info_name=name, parent=parent)
        name, command, rest = command.resolve_command(context, rest)
        parent = context
    assert command is not None
    command.make_context(name, rest, parent=parent)


def _run(page: Page, step: Command) -> str:
    """Run one command line; returns what it printed (stdout and stderr)."""
    words = shlex.split(page.real_tokens(step.text))
    parts: list[list[str]] = [[]]
    for word in words:
        if word == "&&":
            parts.append([])
        else:
            parts[-1].append(word)
    printed = ""
    for args in parts:
        env = dict(page.env)
        while args and re.match(r"^[A-Z_][A-Z0-9_]*=", args[0]):
            name, _, value = args.pop(0).partition("=")
            env[name] = value
        out_file = None
        if len(args) >= 2 and args[-2] == ">":
            out_file = page.folder / args[-1]
            args = args[:-2]
        where = f"{page.name}:{step.line}: {step.text}"
        if tuple(args[:2]) in NOT_RUN:
            continue
        assert args and args[0] == "sts", f"{where}: the guide test runs only sts commands"
        if step.interactive:
            _parse_only(args[1:])
            continue
        if step.background:
            printed += _start_server(page, step, args, env)
            continue
        if any(" ".join(args).startswith(first) for first in REAL_PROCESSES.get(page.name, ())):
            done = subprocess.run(
                [*_sts_program(), *args[1:]],
                cwd=page.folder,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=False,
            )
            code, stdout, output = done.returncode, done.stdout, done.stdout + done.stderr
            assert "Traceback" not in done.stderr, f"{where}\n{done.stderr}"
        else:
            result = CliRunner().invoke(cli.main, args[1:], env=env, prog_name="sts")
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                raise AssertionError(f"{where} raised {result.exception!r}") from result.exception
            code, stdout, output = result.exit_code, result.stdout, result.output
        assert code == step.exits, (
            f"{where}\nexited {code}, the guide says {step.exits}; it printed:\n{output}"
        )
        if out_file is not None:
            out_file.write_text(stdout, "utf-8")
        printed += output
    return printed


def _start_server(page: Page, step: Command, args: list[str], env: dict[str, str]) -> str:
    """Start ``sts meter serve`` as a real process on a free port; returns its first line."""
    where = f"{page.name}:{step.line}: {step.text}"
    assert args[1:3] == ["meter", "serve"], f"{where}: only a server runs in the background"
    shown_port = "4059"
    if "--port" in args:
        at = args.index("--port") + 1
        shown_port, args = args[at], [*args[:at], "0", *args[at + 1 :]]
    else:
        args = [*args, "--port", "0"]
    process = subprocess.Popen(
        [*_sts_program(), *args[1:]],
        cwd=page.folder,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    page.servers.append(process)
    assert process.stdout is not None
    first = process.stdout.readline()  # the server names its port, or exits
    served = re.search(r" on 127\.0\.0\.1:(\d+);", first)
    assert served, f"{where}\nthe server printed {first!r}, not its port"
    page.ports[shown_port] = served.group(1)
    return first.replace(f":{served.group(1)};", f":{shown_port};")


def _stop_servers(page: Page) -> list[tuple[int, str, str]]:
    """SIGTERM (once) each background server still running; (exit code, stdout, stderr) of each."""
    for process in page.servers:
        if process.poll() is None:
            process.terminate()
    return [(process.wait(), *process.communicate()) for process in page.servers]


def _normal(line: str) -> str:
    return " ".join(_BOX.sub(" ", line).split())


def _pattern(shown: str) -> re.Pattern[str]:
    """A shown line as a pattern: tokens and times match any token and time."""
    pieces = []
    position = 0
    for match in sorted([*_TOKEN.finditer(shown), *_TIME.finditer(shown)], key=lambda m: m.start()):
        if match.start() < position:
            continue
        pieces.append(re.escape(shown[position : match.start()]))
        pieces.append(f"({_TOKEN.pattern})" if _TOKEN.fullmatch(match.group(0)) else _TIME.pattern)
        position = match.end()
    pieces.append(re.escape(shown[position:]))
    return re.compile("".join(pieces))


def _check_output(page: Page, step: Command, printed: str) -> None:
    """Every shown line is printed, in order; shown tokens are mapped to the real ones."""
    assert step.shown is not None
    real = [_normal(line) for line in printed.splitlines()]
    at = 0
    for shown_line in step.shown:
        shown = _normal(shown_line)
        if not shown or shown == "...":
            continue
        pattern = _pattern(shown)
        for index in range(at, len(real)):
            found = pattern.search(real[index])
            if found:
                break
        else:
            raise AssertionError(
                f"{page.name}:{step.line}: {step.text}\nthe guide shows {shown!r}, which is not "
                "in what the command printed (after the lines matched before it):\n" + printed
            )
        at = index + 1
        for shown_token, real_token in zip(
            _TOKEN.findall(shown), [g for g in found.groups() if g], strict=True
        ):
            shown_digits, real_digits = shown_token.replace(" ", ""), real_token.replace(" ", "")
            earlier = page.tokens.setdefault(shown_digits, real_digits)
            assert earlier == real_digits, (
                f"{page.name}:{step.line}: the guide shows token {shown_token} again, but the "
                f"command printed {real_token}, not {earlier} as before"
            )


@pytest.fixture
def postgres_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """Makes empty PostgreSQL databases (skips the test when no server is set up), drops them."""
    made: list[Iterator[str]] = []

    def make() -> str:
        database = _empty("postgresql", tmp_path_factory)
        url = next(database)
        made.append(database)
        return url

    yield make
    for database in made:
        next(database, None)


@pytest.mark.parametrize("name", PAGES)
def test_guide_page_runs(
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_database: Callable[[], str],
) -> None:
    steps = read_steps(name)
    env = {
        "STS_DATABASE_URL": f"sqlite:///{tmp_path / 'vending.sqlite'}",
        "STS_MASTER_KEY": MASTER_KEY,
        "STS_MASTER_KEY_FILE": str(tmp_path / "master.key"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "COLUMNS": "80",
    }
    monkeypatch.chdir(tmp_path)
    # The folder stands for a clone's root where the guide says "from the clone".
    shutil.copytree(REPO / "tests" / "vectors", tmp_path / "tests" / "vectors")
    page = Page(name, tmp_path, env)
    commands = 0
    try:
        for step in steps:
            if isinstance(step, WriteFile):
                (tmp_path / step.name).write_text(step.text, "utf-8")
            elif isinstance(step, Export):
                value = step.value
                if step.name == "STS_DATABASE_URL" and value.startswith("postgresql"):
                    # The page's example server is the test's PostgreSQL server: a fresh database.
                    value = postgres_database()
                page.env[step.name] = value
            else:
                printed = _run(page, step)
                commands += 1
                if step.shown is not None:
                    _check_output(page, step, printed)
    finally:
        stopped = _stop_servers(page)
    for code, stdout, stderr in stopped:
        # Each server stops cleanly on SIGTERM, saying it saved its meter.
        assert code == 0, f"{name}: a server exited {code}: {stderr}"
        assert "stopped; saved" in stdout, f"{name}: a server stopped without saving: {stdout}"
        assert "Traceback" not in stderr, stderr
    if name != "index.md":
        assert commands > 0, f"{name} shows no command"


# --- the guide as a whole ------------------------------------------------------------------

GUIDE_PAGES = (
    "quickstart.md",
    "vending.md",
    "meter.md",
    "conformance.md",
    "rollover.md",
    "dlms.md",
    "architecture.md",
    "environment.md",
)


def test_every_chapter_is_written_and_linked() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    index = (DOCS / "index.md").read_text("utf-8")
    assert "(docs/index.md)" in readme
    for page in GUIDE_PAGES:
        assert (DOCS / page).is_file(), page
        assert f"({page})" in index, f"docs/index.md does not link {page}"
    # The commands this test does not run are the README's two, which .ci/run runs.
    quickstart = (DOCS / "quickstart.md").read_text("utf-8")
    for command in ("pip install . && sts demo", "pip install '.[test]' && python -m pytest"):
        assert f"```sh\n{command}\n```" in readme
        assert f"```sh\n{command}\n```" in quickstart


def _links(path: Path) -> list[str]:
    text = path.read_text("utf-8")
    return [
        target.split("#")[0]
        for target in re.findall(r"\]\(([^)\s]+)\)", text)
        if not re.match(r"^[a-z]+:", target) and not target.startswith("#")
    ]


@pytest.mark.parametrize("path", ["README.md", *(f"docs/{page}" for page in PAGES)])
def test_relative_links_point_to_files(path: str) -> None:
    source = REPO / path
    for target in _links(source):
        assert (source.parent / target).exists(), f"{path} links {target}, which does not exist"


def test_vector_format_ships_with_the_package() -> None:
    from importlib.resources import files

    shipped = files("sts.conformance") / "FORMAT.md"
    assert shipped.is_file()
    assert "| `decoder_key` |" in shipped.read_text("utf-8")
    settings = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    assert "FORMAT.md" in settings["tool"]["setuptools"]["package-data"]["sts.conformance"]
    readme = (REPO / "README.md").read_text("utf-8")
    assert "sts/conformance/FORMAT.md" in readme
    assert "`vectors/FORMAT.md`" not in readme


def test_shown_lines_become_patterns() -> None:
    # The reader of docs: what a shown line matches, worked by hand.
    pattern = _pattern(_normal("│ Token      3289 2659 9252 6026 2491  Credit 69.7 kWh │"))
    found = pattern.search("Token 1111 2222 3333 4444 5555 Credit 69.7 kWh")
    assert found is not None and found.group(1) == "1111 2222 3333 4444 5555"
    assert pattern.search("Token 1111 2222 3333 4444 5555 Credit 69.8 kWh") is None
    timed = _pattern("Time 2026-12-01 01:57:07+00:00")
    assert timed.search("Time 2027-01-31 23:00:59+02:00")
    command, comment = _split_comment("sts vend --ref 'a # b'  # exits 1")
    assert (command, comment) == ("sts vend --ref 'a # b'", "exits 1")


def test_keypad_screenshot_shows_an_accepted_token(tmp_path: Path) -> None:
    sys.path.insert(0, str(DOCS))
    try:
        import keypad_screenshot
    finally:
        sys.path.remove(str(DOCS))
    svg = keypad_screenshot.screenshot(tmp_path / "keypad.svg")
    text = re.sub(r"&#160;", " ", svg)
    token = keypad_screenshot.credit_token()
    grouped = " ".join(token[i : i + 4] for i in range(0, 20, 4))
    for expected in ("47500150231", "Accept", "+25.5 kWh", "Relay: closed (credit)"):
        assert expected.replace(" ", "") in re.sub(r"\s|<[^>]*>", "", text), expected
    assert grouped.replace(" ", "") in re.sub(r"\s|<[^>]*>", "", text)
    assert (DOCS / "keypad.svg").is_file()
    assert "keypad.svg" in (DOCS / "meter.md").read_text("utf-8")


def test_conformance_pytest_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The page's Python example, run on the page's own vector file: each line is a test,
    # and only the line the page says is wrong fails.
    monkeypatch.chdir(tmp_path)
    for step in read_steps("conformance.md"):
        if isinstance(step, WriteFile):
            (tmp_path / step.name).write_text(step.text, "utf-8")
    (example,) = [
        lines for language, _, lines, _ in _blocks("conformance.md") if language == "python"
    ]
    namespace: dict[str, object] = {}
    exec(compile("\n".join(example), "conformance.md", "exec"), namespace)
    failed = set()
    for vector in namespace["VECTORS"]:  # type: ignore[attr-defined]
        try:
            namespace["test_vector"](vector)  # type: ignore[operator]
        except AssertionError as exc:
            failed.add(vector.id)
            assert "expected 14200321, got 14200320" in str(exc)
    assert failed == {"my-wrong-tid"}
