"""`newsbot repl`: question after question, the index loaded once, citations a command away."""

from __future__ import annotations

import contextlib
import copy
import difflib
import os
import shlex
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import click

from bot.frontend import INGEST_STAGES, StageRate, unexpected_error
from rag.errors import NewsbotError
from rag.limits import TOP_K

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

    from rag.engine import Engine
    from rag.models import Answer, ArticleInfo, Citation, IngestReport
    from rag.reply import Reply

T = TypeVar("T")
PROMPT = "newsbot> "


class Cancelled(Exception):
    """The user pressed Ctrl-C while newsbot was working."""


class ReplOutput(Protocol):
    """Where the REPL's results go: a terminal (rich) or a pipe (plain text)."""

    def banner(self, stats: dict[str, object]) -> None: ...
    def answer(self, answer: Answer, *, hint: bool = False) -> None: ...
    def passage(self, citation: Citation) -> None: ...
    def articles(self, articles: list[ArticleInfo]) -> None: ...
    def json(self, payload: str) -> None: ...
    def info(self, message: str, *, dim: bool = False) -> None: ...
    def error(self, message: str) -> None: ...


class Busy(Protocol):
    """Runs `work` while showing `label`; with `background`, Ctrl-C can cancel the wait.
    `show` replaces the label while the work runs (an ingest's progress)."""

    def __call__(self, label: str, work: Callable[[], T], *, background: bool) -> T: ...

    def show(self, label: str) -> None: ...


StreamView = Callable[[str], AbstractContextManager[Callable[[str], None]]]
"""Shows `label` while an answer is prepared, then its text so far (given to the function
it yields) as a language model writes it."""


class RunDirectly:
    """Runs the work with nothing shown (piped input, scripts)."""

    def __call__(self, label: str, work: Callable[[], T], *, background: bool) -> T:
        return work()

    def show(self, label: str) -> None:
        pass


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]
    usage: str
    help: str


COMMANDS = (
    Command(("/help", "/?"), "/help", "this list"),
    Command(("/show",), "/show N", "the whole passage N of the last answer, cited text marked"),
    Command(("/sources",), "/sources", "the indexed articles: file, language, passages, title"),
    Command(
        ("/k",), "/k N", f"answer from N passages ({TOP_K.low}-{TOP_K.high}); /k alone shows it"
    ),
    Command(("/reset",), "/reset", "forget the conversation so far"),
    Command(
        ("/ingest",),
        "/ingest [PATH ...]",
        "index more articles (default: the paths indexed before, else the corpus dir)",
    ),
    Command(("/json",), "/json", "switch raw JSON output on or off"),
    Command(("/quit", "/exit"), "/quit", "leave (Ctrl-D too)"),
)


class ReplSession:
    """One REPL session: the questions, the commands, the conversation and the last answer."""

    def __init__(
        self,
        engine: Engine,
        output: ReplOutput,
        *,
        top_k: int | None = None,
        as_json: bool = False,
        busy: Busy | None = None,
        stream_to: StreamView | None = None,
    ) -> None:
        from rag.models import Conversation

        self.engine = engine
        self.output = output
        self.top_k = top_k or engine.settings.top_k
        self.as_json = as_json
        self.busy = busy or RunDirectly()
        self.stream_to = stream_to
        self.conversation = Conversation()
        self.last_answer: Answer | None = None
        self.failures = 0
        self._hinted_show = False
        self._handlers: dict[str, Callable[[str], bool | None]] = {
            "/help": self.show_help,
            "/?": self.show_help,
            "/show": self.show_passage,
            "/sources": self.list_sources,
            "/k": self.set_top_k,
            "/reset": self.reset,
            "/ingest": self.ingest,
            "/json": self.toggle_json,
            "/quit": self.quit,
            "/exit": self.quit,
        }

    def handle(self, line: str) -> bool:
        """Answer a question or run a command; False when the session should end."""
        text = line.strip()
        if not text:
            return True
        try:
            if text.startswith("/"):
                return self.run_command(text)
            self.ask(text)
        except Cancelled:
            self.output.info("Cancelled.", dim=True)
        except NewsbotError as exc:
            self.fail(str(exc))
        except Exception as exc:
            self.fail(unexpected_error(exc))
        return True

    def fail(self, message: str) -> None:
        self.failures += 1
        self.output.error(" ".join(message.split()))

    def start(self) -> None:
        """Load the index, so that even the first answer comes warm, and say what it holds."""
        self.busy("Loading the index…", self.engine.warm_up, background=False)
        self.output.banner(self.engine.stats())
        for warning in self.engine.warnings:
            self.output.error(warning)

    def ask(self, question: str) -> None:
        # The engine adds this turn to the copy; a cancelled question leaves no turn behind.
        conversation = copy.deepcopy(self.conversation)
        reply = self.engine.reply(question, top_k=self.top_k, conversation=conversation)
        if self.stream_to is not None and not self.as_json and self.engine.mode == "generated":
            self._show_streaming(reply, self.stream_to)
            answer = reply.answer
        else:
            answer = self.busy("Answering…", lambda: reply.answer, background=True)
        self.conversation = conversation
        self.last_answer = answer
        if self.as_json:
            self.output.json(answer.model_dump_json())
            return
        hint = bool(answer.citations) and not self._hinted_show
        self._hinted_show |= hint
        self.output.answer(answer, hint=hint)

    @staticmethod
    def _show_streaming(reply: Reply, stream_to: StreamView) -> None:
        """Show the answer's text as the model writes it; the final render replaces it."""
        text = ""
        pieces = reply.in_background()
        with stream_to("Answering…") as show, contextlib.closing(pieces):
            try:
                for piece in pieces:
                    text += piece
                    show(text)
            except KeyboardInterrupt:
                raise Cancelled from None

    def run_command(self, text: str) -> bool:
        name, _, argument = text.partition(" ")
        handler = self._handlers.get(name.lower())
        if handler is None:
            close = difflib.get_close_matches(name.lower(), self._handlers, n=1, cutoff=0.6)
            suggestion = f"; did you mean {close[0]}?" if close else ""
            self.fail(f"unknown command {name}{suggestion} (/help lists the commands)")
            return True
        return handler(argument.strip()) is not False

    # -- commands ------------------------------------------------------------------------

    def show_help(self, argument: str) -> None:
        width = max(len(command.usage) for command in COMMANDS)
        self.output.info("Type a question in Arabic, French or English, or a command:")
        for command in COMMANDS:
            self.output.info(f"  {command.usage:<{width}}  {command.help}")
        self.output.info(
            "Up/Down and Ctrl-R search the history; Ctrl-C clears the line or stops an answer.",
            dim=True,
        )

    def show_passage(self, argument: str) -> None:
        citations = self.last_answer.citations if self.last_answer else []
        if not citations:
            self.fail("no answer with sources yet; ask a question first")
            return
        number = _parse_int(argument or "1")
        if number is None or not 1 <= number <= len(citations):
            self.fail(f"the last answer cites {_source_numbers(len(citations))}; try /show 1")
            return
        citation = citations[number - 1]
        if self.as_json:
            self.output.json(citation.model_dump_json())
        else:
            self.output.passage(citation)

    def list_sources(self, argument: str) -> None:
        articles = self.engine.articles()
        if self.as_json:
            self.output.json("[" + ",".join(a.model_dump_json() for a in articles) + "]")
        else:
            self.output.articles(articles)

    def set_top_k(self, argument: str) -> None:
        if not argument:
            self.output.info(f"Answers use the best {self.top_k} passages; /k N changes it.")
            return
        number = _parse_int(argument)
        if number is None or not TOP_K.low <= number <= TOP_K.high:
            self.fail(f"/k takes a number of passages from {TOP_K.low} to {TOP_K.high}, e.g. /k 3")
            return
        self.top_k = number
        self.output.info(f"Answers now use the best {number} passages.")

    def reset(self, argument: str) -> None:
        turns = len(self.conversation)
        self.conversation.reset()
        self.output.info(f"Forgot the conversation ({turns} turn{'s' if turns != 1 else ''}).")

    def ingest(self, argument: str) -> None:
        try:
            paths = [Path(word).expanduser() for word in shlex.split(argument)]
        except ValueError as exc:
            self.fail(f"cannot read the paths ({exc}); quote paths with spaces: /ingest 'my dir'")
            return
        try:
            report = self.busy("Indexing…", lambda: self._ingest(paths), background=False)
        except Cancelled:
            self.output.info("Indexing interrupted; /ingest again finishes it.", dim=True)
            return
        for warning in report.skipped:
            self.output.info(f"warning: {warning}", dim=True)
        for notice in report.notices:
            self.output.info(f"note: {notice}")
        self.output.info(f"Indexed {report.summary()}.")

    def _ingest(self, paths: list[Path]) -> IngestReport:
        """The ingest, its stage, count, rate and the time left shown as it goes."""
        rate = StageRate()

        def progress(stage: str, done: int, total: int) -> None:
            detail = rate(stage, done, total)
            label = f"{INGEST_STAGES.get(stage, stage)} {done:,}/{total:,}"
            self.busy.show(f"Indexing… {label}" + (f" · {detail}" if detail else ""))

        return self.engine.ingest(paths or None, progress=progress)

    def toggle_json(self, argument: str) -> None:
        self.as_json = not self.as_json
        self.output.info(f"JSON output {'on' if self.as_json else 'off'}.")

    def quit(self, argument: str) -> bool:
        return False


def _source_numbers(count: int) -> str:
    """ "source 1 only", "sources 1 and 2", "sources 1–5": what `/show` can be given."""
    if count == 1:
        return "source 1 only"
    if count == 2:
        return "sources 1 and 2"
    return f"sources 1–{count}"


def _parse_int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


class PlainOutput:
    """For pipes: plain answers on stdout, the way `newsbot ask` prints them; the rest on stderr."""

    def __init__(self) -> None:
        self.line_number: int | None = None

    def banner(self, stats: dict[str, object]) -> None:
        pass

    def answer(self, answer: Answer, *, hint: bool = False) -> None:
        from bot.render import render_answer

        click.echo(render_answer(answer) + "\n")

    def passage(self, citation: Citation) -> None:
        from bot.render import render_passage

        click.echo(render_passage(citation) + "\n")

    def articles(self, articles: list[ArticleInfo]) -> None:
        from bot.render import render_articles

        click.echo(render_articles(articles) + "\n")

    def json(self, payload: str) -> None:
        click.echo(payload)

    def info(self, message: str, *, dim: bool = False) -> None:
        click.echo(f"newsbot: {message}", err=True)

    def error(self, message: str) -> None:
        where = f"line {self.line_number}: " if self.line_number else ""
        click.echo(f"newsbot: error: {where}{message}", err=True)


# -- the terminal ---------------------------------------------------------------------------


def run_in_thread(work: Callable[[], T]) -> T:
    """`work()` in a daemon thread, so that Ctrl-C stops waiting for it at once.

    An interrupted call runs on to its end in the background and its result is dropped.
    """
    future: Future[T] = Future()

    def target() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=target, name="newsbot-work", daemon=True).start()
    return future.result()


class Spinner:
    """A spinner with its label on `console` while the work runs."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._status: Status | None = None

    def __call__(self, label: str, work: Callable[[], T], *, background: bool) -> T:
        with self.console.status(label, spinner="dots") as status:
            self._status = status
            try:
                return run_in_thread(work) if background else work()
            except KeyboardInterrupt:
                raise Cancelled from None
            finally:
                self._status = None

    def show(self, label: str) -> None:
        if self._status is not None:
            self._status.update(label)


def offer_first_ingest(session: ReplSession, ask_user: Callable[[str], str]) -> None:
    """With nothing indexed yet, offer to index the corpus directory."""
    settings = session.engine.settings
    question = (
        f"Nothing is indexed in {settings.data_dir} yet. "
        f"Index the articles in {settings.corpus_dir}/ now? [Y/n] "
    )
    if ask_user(question).strip().lower() in ("", "y", "yes", "o", "oui", "نعم"):
        session.handle("/ingest")
    else:
        session.output.info("Nothing indexed; /ingest PATH indexes articles.", dim=True)


def run_terminal(
    engine: Engine, top_k: int | None, as_json: bool, bidi: str, state_dir: Path
) -> None:
    """The interactive session; its history is kept in `state_dir`."""
    from rich.console import Console

    from bot.repl.prompt import make_prompt, open_history
    from bot.terminal_render import TerminalRenderer, lacks_bidi

    console = Console(highlight=False, markup=False, emoji=False)
    renderer = TerminalRenderer(
        console, "reorder" if bidi == "reorder" else "terminal", bidi_hint=lacks_bidi(os.environ)
    )
    session = ReplSession(
        engine,
        renderer,
        top_k=top_k,
        as_json=as_json,
        busy=Spinner(console),
        stream_to=renderer.streaming,
    )
    history, problem = open_history(state_dir)
    if problem:
        renderer.info(f"warning: {problem}")
    prompt = make_prompt(history, [name for command in COMMANDS for name in command.names])
    try:
        if not engine.has_index():
            offer_first_ingest(session, lambda question: prompt.prompt(question))
        session.start()
    except (KeyboardInterrupt, EOFError, Cancelled):
        return
    except NewsbotError as exc:
        session.fail(str(exc))
    while True:
        renderer.hint_bidi()  # after the first output with Arabic, in tmux or the console
        try:
            line = prompt.prompt([("bold", PROMPT)])
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        if not session.handle(line):
            break


def run_piped(engine: Engine, top_k: int | None, as_json: bool) -> int:
    """Questions and commands from stdin, one per line; returns the exit code."""
    from bot.frontend import ensure_index, stdin_lines

    ensure_index(engine)
    output = PlainOutput()
    session = ReplSession(engine, output, top_k=top_k, as_json=as_json)
    for number, line, problem in stdin_lines():
        output.line_number = number
        if problem:
            session.fail(problem)
            continue
        if not session.handle(line):
            break
        sys.stdout.flush()
    return 1 if session.failures else 0
