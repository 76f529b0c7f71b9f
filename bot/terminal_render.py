"""Rich rendering for the REPL: answers with their [n] markers, sources, passages, articles.

Every paragraph is wrapped here rather than by the terminal, so that in `reorder` mode each
wrapped line can be laid out in visual order (see bot.bidi_reorder) with its colours.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Literal

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from bot.bidi_reorder import has_rtl, is_rtl_paragraph, visual_line
from bot.render import by_article, language_name, passage_label, printable
from rag.models import Answer, ArticleInfo, Citation
from rag.safe_text import escaped_name

BidiMode = Literal["terminal", "reorder"]

MARKER = re.compile(r"\[\d+\]")
WHITESPACE = re.compile(r"\s+")
WORDS_AND_SPACES = re.compile(r"\s+|\S+")
MARKER_STYLE = "bold cyan"
CITED_STYLE = "bold yellow"
TITLE_STYLE = "bold"
META_STYLE = "dim"
NOTICE_STYLE = "yellow"
ERROR_STYLE = "bold red"
ABSTAIN_STYLE = "italic"
INDENT = 4
MIN_WIDTH = 24
MODE_NAMES = {"extractive": "extractive answers (offline)"}
BIDI_HINT = (
    "hint: if the Arabic above reads backwards, start newsbot repl --bidi reorder "
    "(or set NEWSBOT_REPL_BIDI=reorder)"
)


def excerpt(
    text: str, highlights: Sequence[tuple[int, int]], *, context: int = 60, limit: int = 320
) -> Text:
    """A short extract of a passage: its cited spans (highlighted) with a little context.

    The context stays within the cited paragraph; white space is collapsed.
    """
    clean = printable(text)
    windows: list[list[int]] = []
    for start, end in sorted(highlights):
        paragraph_start = clean.rfind("\n", 0, start) + 1
        paragraph_end = clean.find("\n", end)
        if paragraph_end == -1:
            paragraph_end = len(clean)
        left = _word_start(clean, max(paragraph_start, start - context), start)
        right = _word_end(clean, end, min(paragraph_end, end + context))
        if windows and left <= windows[-1][1] + 1:
            windows[-1][1] = max(windows[-1][1], right)
        else:
            windows.append([left, right])
    if not windows:
        windows = [[0, _word_end(clean, 0, min(len(clean), limit))]]

    result = Text()
    budget = limit
    for left, right in windows:
        if budget <= 0:
            break
        if right - left > budget:
            right = _word_end(clean, left + budget // 2, left + budget)
        budget -= right - left
        while left < right and clean[left].isspace():
            left += 1
        if clean[:left].strip():
            result.append(" … " if result else "… ", style=META_STYLE)
        _append_collapsed(result, clean, left, right, highlights)
        if not clean[right:].strip():
            return result
    result.append(" …", style=META_STYLE)
    return result


def _append_collapsed(
    result: Text, text: str, start: int, end: int, highlights: Sequence[tuple[int, int]]
) -> None:
    """Append text[start:end] with runs of white space made one space, cited spans styled."""
    pieces = [
        (match.start(), match.end(), " " if match.group().isspace() else match.group())
        for match in WORDS_AND_SPACES.finditer(text, start, end)
    ]
    for piece_start, piece_end, piece in pieces:
        cited = any(s < piece_end and e > piece_start for s, e in highlights)
        result.append(piece, style=CITED_STYLE if cited and not piece.isspace() else "")
    result.rstrip()


def _word_start(text: str, position: int, limit: int) -> int:
    """`position` moved forward to the start of a word, but not past `limit`."""
    if position == 0 or text[position - 1].isspace():
        return position
    space = WHITESPACE.search(text, position, limit)
    return space.end() if space else limit


def _word_end(text: str, position: int, limit: int) -> int:
    """`limit` moved back to the end of a word, but not before `position`."""
    if limit >= len(text) or text[limit].isspace():
        return limit
    spaces = [match.start() for match in WHITESPACE.finditer(text, position, limit)]
    return spaces[-1] if spaces else limit


def lacks_bidi(environ: Mapping[str, str]) -> bool:
    """Whether the terminal is one known to show Arabic backwards: a tmux pane (TMUX is set,
    or tmux's TERM), GNU screen, or the Linux console. Others may too; these are certain."""
    term = environ.get("TERM", "")
    return bool(environ.get("TMUX")) or term == "linux" or term.startswith(("screen", "tmux"))


def _highlight_markers(text: Text) -> Text:
    for match in MARKER.finditer(text.plain):
        text.stylize(MARKER_STYLE, match.start(), match.end())
    return text


class TerminalRenderer:
    """Writes the REPL's output to a rich Console."""

    def __init__(
        self, console: Console, bidi: BidiMode = "terminal", *, bidi_hint: bool = False
    ) -> None:
        """`bidi_hint`: the terminal lacks bidi (`lacks_bidi`); in `terminal` mode,
        `hint_bidi` then suggests `reorder` once Arabic was shown."""
        self.console = console
        self.bidi = bidi
        self._bidi_hint_due = bidi_hint and bidi == "terminal"
        self._wrote_rtl = False

    # -- layout ------------------------------------------------------------------------

    def lines(self, text: Text, *, indent: int = 0, rtl: bool | None = None) -> list[Text]:
        """`text` wrapped to the console, each line in visual order in `reorder` mode.

        `rtl` is the paragraph direction; by default each paragraph's own.
        """
        width = max(MIN_WIDTH, self.console.width - indent)
        laid_out: list[Text] = []
        for paragraph in text.split("\n"):
            right_to_left = is_rtl_paragraph(paragraph.plain) if rtl is None else rtl
            wrapped = paragraph.wrap(self.console, width) if paragraph.plain else [Text()]
            for line in wrapped:
                line.rstrip()
                if self.bidi == "reorder" and (right_to_left or has_rtl(line.plain)):
                    line = _visual_order(line, right_to_left)
                    if right_to_left:
                        line = Text(" " * max(0, width - line.cell_len)) + line
                laid_out.append(Text(" " * indent) + line if indent and line else line)
        return laid_out

    def write(self, text: Text, *, indent: int = 0, rtl: bool | None = None) -> None:
        for line in self.lines(text, indent=indent, rtl=rtl):
            self.console.print(line, soft_wrap=True)
        if self._bidi_hint_due and has_rtl(text.plain):
            self._wrote_rtl = True

    def hint_bidi(self) -> None:
        """Once a session, after the first output with Arabic in a terminal that lacks bidi
        support: the one line that says how to have newsbot lay Arabic out."""
        if self._bidi_hint_due and self._wrote_rtl:
            self._bidi_hint_due = False
            self.write(Text(BIDI_HINT, style=NOTICE_STYLE), rtl=False)

    # -- what the REPL shows -------------------------------------------------------------

    def banner(self, stats: dict[str, object]) -> None:
        """One line: what is indexed, in which languages, how answers are made."""
        languages = stats.get("languages")
        codes = [str(code) for code in languages] if isinstance(languages, list) else []
        mode = str(stats.get("mode", ""))
        counts = f"{stats.get('articles', 0)} articles · {stats.get('passages', 0)} passages"
        answers = MODE_NAMES.get(mode, f"{mode} answers")
        names = ", ".join(language_name(code) for code in codes) or "nothing yet"
        # The longest variant that fits on one line.
        for parts in (
            [counts, names, answers, "/help for commands"],
            [counts, names, answers, "/help"],
            [counts, " ".join(codes), answers, "/help"],
            [counts, " ".join(codes), mode, "/help"],
            [counts, " ".join(codes), mode],
        ):
            line = Text("newsbot", style=TITLE_STYLE).append(" · " + " · ".join(parts))
            if line.cell_len <= self.console.width:
                break
        self.write(line, rtl=False)

    def answer(self, answer: Answer, *, hint: bool = False) -> None:
        body = Text(printable(answer.answer), style=ABSTAIN_STYLE if answer.abstained else "")
        self.write(_highlight_markers(body))
        for notice in answer.notices:
            self.write(Text(f"note: {notice}", style=NOTICE_STYLE), rtl=False)
        if not answer.citations:
            return
        self.console.print()
        for group in by_article(answer.citations):
            title = Text(printable(group[0].title).replace("\n", " "), style=TITLE_STYLE)
            title.truncate(self.console.width, overflow="ellipsis")
            self.write(title, rtl=False)
            self._meta(group[0])
            for citation in group:
                self._label(citation, indent=INDENT)
                self.write(excerpt(citation.text, citation.highlights), indent=2 * INDENT)
        if hint:
            self.info("/show N prints the whole passage N.", dim=True)

    @contextlib.contextmanager
    def streaming(self, label: str) -> Iterator[Callable[[str], None]]:
        """A spinner with `label`, then the text so far of an answer being written (give it
        to the function this yields). It is cleared at the end, for the answer to replace."""
        spinner = Spinner("dots", text=label)
        with Live(spinner, console=self.console, transient=True, refresh_per_second=12.5) as live:

            def show(text: str) -> None:
                # Only the last screenful: Live cannot clear what scrolled out of sight.
                lines = self.lines(_highlight_markers(Text(printable(text))))
                live.update(Group(*lines[-max(1, self.console.height - 2) :]), refresh=True)

            yield show

    def passage(self, citation: Citation) -> None:
        self._heading(citation)
        self._meta(citation, passage_label(citation))
        body = Text(printable(citation.text))
        for start, end in citation.highlights:
            body.stylize(CITED_STYLE, start, end)
        self.write(body, indent=INDENT)

    def articles(self, articles: Sequence[ArticleInfo]) -> None:
        if not articles:
            self.info("No articles are indexed yet; /ingest PATH indexes some.")
            return
        source_width = max(len(escaped_name(article.source)) for article in articles)
        language_width = max(len(language_name(a.language)) for a in articles)
        for article in articles:
            language = language_name(article.language)
            line = Text(f"{escaped_name(article.source):<{source_width}}  ", style=META_STYLE)
            line.append(f"{language:<{language_width}}  {article.passages:>4} passages  ")
            title = Text(printable(article.title).replace("\n", " "), style=TITLE_STYLE)
            title.truncate(max(8, self.console.width - line.cell_len), overflow="ellipsis")
            self.write(line + title, rtl=False)
        total = sum(article.passages for article in articles)
        self.info(f"{len(articles)} articles, {total} passages", dim=True)

    def json(self, payload: str) -> None:
        self.console.out(payload, highlight=False)

    def info(self, message: str, *, dim: bool = False) -> None:
        self.write(Text(message, style=META_STYLE if dim else ""), rtl=False)

    def error(self, message: str) -> None:
        line = Text("error: ", style=ERROR_STYLE)
        line.append(printable(message))
        self.write(line, rtl=False)

    def _heading(self, citation: Citation) -> None:
        line = Text(f"[{citation.n}] ", style=MARKER_STYLE)
        title = Text(printable(citation.title).replace("\n", " "), style=TITLE_STYLE)
        title.truncate(max(8, self.console.width - line.cell_len), overflow="ellipsis")
        self.write(line + title, rtl=False)

    def _meta(self, citation: Citation, label: str = "") -> None:
        """The article's file and language, and `label` after them."""
        language = language_name(citation.language)
        parts = [escaped_name(citation.source), language, label]
        self.write(
            Text(" · ".join(part for part in parts if part), style=META_STYLE),
            indent=INDENT,
            rtl=False,
        )

    def _label(self, citation: Citation, *, indent: int) -> None:
        """ "[n] passage 2 of 5 · “The first cited words…”": one passage of a group."""
        line = Text(f"[{citation.n}] ", style=MARKER_STYLE)
        line.append(passage_label(citation), style=META_STYLE)
        self.write(line, indent=indent, rtl=False)


def _visual_order(line: Text, rtl: bool) -> Text:
    """`line` laid out left to right for a terminal without bidi, styles following."""
    layout = visual_line(line.plain, rtl)
    styles: list[list[object]] = [[] for _ in line.plain]
    for span in line.spans:
        for position in range(span.start, min(span.end, len(styles))):
            styles[position].append(span.style)
    result = Text(style=line.style)
    run_start = 0
    for column in range(1, len(layout.order) + 1):
        at_end = column == len(layout.order)
        if at_end or styles[layout.order[column]] != styles[layout.order[run_start]]:
            begin = len(result)
            result.append("".join(layout.glyphs[run_start:column]))
            for style in styles[layout.order[run_start]]:
                result.stylize(style, begin, len(result))  # type: ignore[arg-type]
            run_start = column
    return result
