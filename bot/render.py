"""Plain-text rendering of answers for terminals and pipes."""

from __future__ import annotations

import textwrap

from rag.models import Answer, ArticleInfo, Citation
from rag.safe_text import escaped_name, one_line, printable

__all__ = ["escaped_name", "one_line", "printable"]

LANGUAGE_NAMES = {"ar": "Arabic", "fr": "French", "en": "English", "und": "unknown"}


def render_answer(answer: Answer, *, width: int = 88) -> str:
    """The answer, then its numbered sources with their passages."""
    return "\n".join([printable(answer.answer), *_after_text(answer, width)])


def render_after_stream(answer: Answer, *, width: int = 88) -> str:
    """What `render_answer` shows after the answer's text, for when the text was streamed."""
    return "\n".join(_after_text(answer, width))


def _after_text(answer: Answer, width: int) -> list[str]:
    lines = []
    for notice in answer.notices:
        lines.append(f"(note: {one_line(notice)})")
    if answer.citations:
        lines.append("")
        lines.append("Sources")
        for citation in answer.citations:
            language = LANGUAGE_NAMES.get(citation.language, citation.language)
            lines.append(f"[{citation.n}] {one_line(citation.title)}")
            lines.append(
                f"    {escaped_name(citation.source)} · {language} · "
                f"characters {citation.start}-{citation.end}"
            )
            lines.extend(_indented(citation.text, width))
    return lines


def render_passage(citation: Citation, place: tuple[int, int] | None, *, width: int = 88) -> str:
    """One cited passage in full, and where it sits in its article."""
    language = LANGUAGE_NAMES.get(citation.language, citation.language)
    where = f"passage {place[0]} of {place[1]}, " if place else ""
    lines = [
        f"[{citation.n}] {one_line(citation.title)}",
        f"    {escaped_name(citation.source)} · {language} · {where}characters "
        f"{citation.start}-{citation.end} of the article",
        *_indented(citation.text, width),
    ]
    return "\n".join(lines)


def _indented(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in printable(text).split("\n"):
        if paragraph.strip():
            lines.extend(
                textwrap.wrap(
                    paragraph.strip(),
                    width=width,
                    initial_indent="    ",
                    subsequent_indent="    ",
                    break_long_words=False,
                )
            )
    return lines


def render_articles(articles: list[ArticleInfo]) -> str:
    if not articles:
        return "No articles are indexed yet; run `newsbot ingest`."
    rows = [
        f"{escaped_name(a.source)}  {a.language}  {a.passages:>3} passages  {one_line(a.title)}"
        for a in articles
    ]
    total = sum(a.passages for a in articles)
    rows.append(f"{len(articles)} articles, {total} passages")
    return "\n".join(rows)
