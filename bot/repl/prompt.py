"""The REPL's input line (prompt_toolkit): saved history, Ctrl-R search, command completion."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.filters import is_searching
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.key_binding.bindings import search

HISTORY_FILE = "history"
PATH_COMMANDS = ("/ingest",)


class CommandCompleter(Completer):
    """Completes /commands, and the paths after /ingest."""

    def __init__(self, commands: Sequence[str]) -> None:
        self.commands = list(commands)
        self.paths = PathCompleter(expanduser=True)

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/"):
            return
        name, space, argument = text.partition(" ")
        if not space:
            for command in self.commands:
                if command.startswith(text.lower()):
                    yield Completion(command, start_position=-len(text))
        elif name.lower() in PATH_COMMANDS and " " not in argument:
            yield from self.paths.get_completions(Document(argument), complete_event)


def open_history(folder: Path) -> tuple[History, str | None]:
    """The saved history in `folder`, or an in-memory one and the reason why."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / HISTORY_FILE
        path.touch()
    except OSError as exc:
        return InMemoryHistory(), (
            f"no saved history: cannot write to {folder} ({exc.strerror or exc}); "
            "set NEWSBOT_STATE_DIR to a writable folder"
        )
    return FileHistory(str(path)), None


def _key_bindings() -> KeyBindings:
    bindings = KeyBindings()
    # Enter during a Ctrl-R search runs the line found, as in bash (not just selects it).
    bindings.add("enter", filter=is_searching)(search.accept_search_and_accept_input)
    return bindings


def make_prompt(history: History, commands: Sequence[str]) -> PromptSession[str]:
    return PromptSession(
        history=history,
        completer=CommandCompleter(commands),
        complete_while_typing=True,
        key_bindings=_key_bindings(),
    )
