"""Plain-text rendering of answers for terminals and pipes."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from rag.models import LANGUAGE_NAMES, Answer, ArticleInfo, Citation
from rag.safe_text import escaped_name, one_line, printable

__all__ = ["escaped_name", "one_line", "printable"]


def language_name(code: str) -> str:
    """ "Arabic" for "ar"; "unknown" for "und"; other codes as they are."""
    return "unknown" if code == "und" else LANGUAGE_NAMES.get(code, code)


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
        for group in by_article(answer.citations):
            first = group[0]
            language = language_name(first.language)
            lines.append(one_line(first.title))
            lines.append(f"    {escaped_name(first.source)} · {language}")
            for citation in group:
                lines.append(f"    [{citation.n}] {passage_label(citation)}")
                lines.extend(_indented(citation.text, width, indent=8))
    return lines


def by_article(citations: Sequence[Citation]) -> list[list[Citation]]:
    """The citations grouped by article, articles in the order of their first citation,
    each article's citations by number."""
    groups: dict[str, list[Citation]] = {}
    for citation in sorted(citations, key=lambda c: c.n):
        groups.setdefault(citation.source, []).append(citation)
    return list(groups.values())


def passage_place(citation: Citation) -> str:
    """ "passage 2 of 5", or "" when the citation does not say."""
    if citation.passage is None or citation.passages is None:
        return ""
    return f"passage {citation.passage} of {citation.passages}"


def passage_label(citation: Citation) -> str:
    """What tells a cited passage from the others of its article: where it sits and the
    first words it is cited for, e.g. 'passage 2 of 5 · “Microsoft will ensure…”'."""
    opening = one_line(citation.cited_opening)
    parts = [passage_place(citation), f"“{opening}”" if opening else ""]
    return " · ".join(part for part in parts if part)


def render_passage(citation: Citation, *, width: int = 88) -> str:
    """One cited passage in full, and where it sits in its article."""
    language = language_name(citation.language)
    lines = [
        f"[{citation.n}] {one_line(citation.title)}",
        f"    {escaped_name(citation.source)} · {language} · {passage_label(citation)}",
        *_indented(citation.text, width),
    ]
    return "\n".join(lines)


def _indented(text: str, width: int, *, indent: int = 4) -> list[str]:
    lines: list[str] = []
    for paragraph in printable(text).split("\n"):
        if paragraph.strip():
            lines.extend(
                textwrap.wrap(
                    paragraph.strip(),
                    width=width,
                    initial_indent=" " * indent,
                    subsequent_indent=" " * indent,
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
