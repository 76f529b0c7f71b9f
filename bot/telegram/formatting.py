"""Telegram HTML for answers, passages and article lists, split at Telegram's length limit.

Telegram's `parse_mode=HTML` knows a few tags and the entities `&lt; &gt; &amp; &quot;`; every
piece of article or user text goes through `escape`. Lengths are counted the way Telegram
counts them: UTF-16 code units of the text after the tags and entities are parsed, so most
emoji count twice.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bot.render import by_article
from prompts import localized_prompt
from rag.models import Answer, ArticleInfo, Citation, opening_words
from rag.safe_text import escaped_name, printable

MAX_MESSAGE_UNITS = 4096
MAX_BUTTON_CHARS = 48
MIN_BUTTON_OPENING_CHARS = 12
ARTICLES_PER_PAGE = 20
MAX_TITLE_UNITS = 150  # 20 titles this long fit in a message, numbered, with their languages
PROMPT_FOLDER = "telegram"

UI_LANGUAGES = ("ar", "fr", "en")
LANGUAGE_NAMES: dict[str, dict[str, str]] = {
    "en": {"ar": "Arabic", "fr": "French", "en": "English"},
    "fr": {"ar": "arabe", "fr": "français", "en": "anglais"},
    "ar": {"ar": "العربية", "fr": "الفرنسية", "en": "الإنجليزية"},
}

_TOKEN_RE = re.compile(r"<[^>]*>|[ \t\r\n]+|[^< \t\r\n]+")
_TAG_NAME_RE = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9-]*)")
_ATOM_RE = re.compile(r"&(?:#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z]+);|.", re.DOTALL)
_ZERO_WIDTH_JOINER = "\u200d"
# Around a quoted opening, so that an English quote in an Arabic label (or the reverse)
# is laid out as one run, its quotation marks on the right sides.
_FIRST_STRONG_ISOLATE = "\u2068"
_POP_DIRECTIONAL_ISOLATE = "\u2069"


def ui_language(code: str | None) -> str:
    """The interface language for a Telegram `language_code` such as "fr-FR": ar, fr or en."""
    primary = (code or "").split("-")[0].lower()
    return primary if primary in UI_LANGUAGES else "en"


def text(name: str, language: str, **values: object) -> str:
    """The HTML text `prompts/telegram/<name>.<language>.txt`, with escaped `{values}` filled in."""
    template = localized_prompt(f"{PROMPT_FOLDER}/{name}", language)
    return template.format_map({key: escape(str(value)) for key, value in values.items()})


def plain_text(name: str, language: str, **values: object) -> str:
    """Like `text`, as plain text (for callback answers, which Telegram does not parse)."""
    return html.unescape(re.sub(r"<[^>]*>", "", text(name, language, **values)))


def escape(value: str) -> str:
    """Text for Telegram's HTML: the one sanitiser's printable text, HTML-escaped."""
    return html.escape(printable(value), quote=False)


def utf16_units(value: str) -> int:
    """The length of `value` as Telegram counts it."""
    return len(value.encode("utf-16-le", "surrogatepass")) // 2


def visible_units(markup: str) -> int:
    """The length Telegram counts for an HTML text: its characters once tags are removed."""
    return utf16_units(html.unescape(re.sub(r"<[^>]*>", "", markup)))


def language_name(code: str, ui: str) -> str:
    return LANGUAGE_NAMES.get(ui, LANGUAGE_NAMES["en"]).get(code, code)


def join_names(names: Sequence[str], ui: str) -> str:
    """ "A, B and C" in English, "A, B et C" in French, "A وB وC" in Arabic."""
    if ui == "ar":
        return " و".join(names)
    if len(names) < 2:
        return "".join(names)
    conjunction = {"fr": " et "}.get(ui, " and ")
    return ", ".join(names[:-1]) + conjunction + names[-1]


def answer_language(answer: Answer, fallback: str) -> str:
    """The language of an answer's labels: the answer's own when it is one we speak."""
    return answer.language if answer.language in UI_LANGUAGES else fallback


def format_answer(answer: Answer, ui: str, *, shortened: bool = False) -> str:
    """The answer with its [n] markers, its notices, then its sources: "title · language"
    once per article, and under it "[n] passage k of m · “first words…”" per cited passage.
    `shortened`: the answer's text was cut; say so after it."""
    parts = [escape(answer.answer) + (" …" if shortened else "")]
    if shortened:
        parts.append(f"<i>{text('shortened', ui)}</i>")
    parts.extend(f"<i>{escape(notice)}</i>" for notice in answer.notices)
    if answer.citations:
        lines = [f"<b>{text('sources_heading', ui)}</b>"]
        for group in by_article(answer.citations):
            title, language = group[0].title, language_name(group[0].language, ui)
            lines.append(f"<b>{escape(title)}</b> · {escape(language)}")
            lines.extend(f"[{c.n}] {escape(passage_label(c, ui))}" for c in group)
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def answer_messages(
    answer: Answer, ui: str, max_messages: int, limit: int = MAX_MESSAGE_UNITS
) -> list[str]:
    """The formatted answer as at most `max_messages` messages of at most `limit` units.

    An answer too long for them is cut at a word and followed by " …" and a note saying that
    it was shortened; its notices and source list are kept whole (unless they alone are too
    long, in which case the last messages are left out).
    """
    markup = format_answer(answer, ui)
    if visible_units(markup) <= max_messages * limit:
        parts = split_html(markup, limit)
        if len(parts) <= max_messages:
            return parts
    rest = visible_units(
        format_answer(answer.model_copy(update={"answer": ""}), ui, shortened=True)
    )
    budget = max_messages * limit - rest
    while True:
        kept = _cut_at_word(answer.answer, budget)
        shortened = answer.model_copy(update={"answer": kept})
        parts = split_html(format_answer(shortened, ui, shortened=True), limit)
        if len(parts) <= max_messages or not kept:
            return parts[:max_messages]
        budget = min(budget, utf16_units(kept)) - limit // 8  # the cuts between messages


def _cut_at_word(value: str, units: int) -> str:
    """The beginning of `value` that takes at most `units` UTF-16 units, cut at a space when
    there is one in its second half."""
    if units <= 0:
        return ""
    head = value[:units]
    while (excess := utf16_units(head) - units) > 0:
        head = head[: len(head) - (excess + 1) // 2]  # a character takes 1 or 2 units
    if len(head) < len(value):
        space = max(head.rfind(c) for c in " \n\t")
        if space > len(head) // 2:
            head = head[:space]
    return head.rstrip()


def partial_answer(text: str, limit: int = MAX_MESSAGE_UNITS) -> str:
    """The text a model has written so far, as valid HTML for one message: escaped, and when
    too long, its beginning (the formatted answer replaces it in the end)."""
    text = text.strip()
    if utf16_units(text[:limit]) > limit - 2:  # counts no more than it needs to
        text = text[: (limit - 2) // 2].rstrip()  # a UTF-16 unit count can be twice the length
    return escape(text + " …") if text else ""


def passage_place(citation: Citation, ui: str) -> str:
    """ "passage 2 of 5" in the interface language, as plain text; "" when unknown."""
    if citation.passage is None or citation.passages is None:
        return ""
    return plain_text("passage_place", ui, n=citation.passage, count=citation.passages)


def passage_label(citation: Citation, ui: str, *, opening_chars: int | None = None) -> str:
    """ "passage 2 of 5 · “Microsoft will ensure…”" in the interface language, as plain
    text: where the passage sits in its article and the first words it is cited for (at
    most `opening_chars` of them)."""
    opening = citation.cited_opening
    if opening_chars is not None:
        opening = opening_words(opening, chars=opening_chars)
    quoted = (
        _FIRST_STRONG_ISOLATE + plain_text("quoted", ui, opening=opening) + _POP_DIRECTIONAL_ISOLATE
        if opening
        else ""
    )
    return " · ".join(part for part in (passage_place(citation, ui), quoted) if part)


def button_label(citation: Citation, ui: str) -> str:
    """ "[n] passage 2 of 5 · “Microsoft will…”", the opening cut at a word so that the label
    stays short (the source list above the buttons names the articles)."""
    prefix = f"[{citation.n}] "
    if place := passage_place(citation, ui):
        prefix += place + " · "
    room = MAX_BUTTON_CHARS - len(prefix) - len(plain_text("quoted", ui, opening="")) - len("…")
    label = passage_label(citation, ui, opening_chars=max(MIN_BUTTON_OPENING_CHARS, room))
    return f"[{citation.n}] {label}"


def format_passage(citation: Citation, ui: str, limit: int = MAX_MESSAGE_UNITS) -> str:
    """The cited passage with its cited sentences in bold, in one message of at most `limit`.

    A passage too long for one message is shown around its first cited sentence, with "…"
    where it was cut.
    """
    language, source = language_name(citation.language, ui), escaped_name(citation.source)
    header = (
        f"<b>[{citation.n}] {escape(citation.title)}</b>\n"
        f"{escape(passage_label(citation, ui))}\n"
        f"<i>{escape(language)} · {escape(source)}</i>\n\n"
    )
    body = _highlighted(citation.text, citation.highlights)
    if visible_units(header + body) <= limit:
        return header + body
    budget = limit - visible_units(header) - 4
    start, end = _window(citation.text, citation.highlights, budget)
    spans = [(max(s, start) - start, min(e, end) - start) for s, e in citation.highlights]
    body = _highlighted(citation.text[start:end], [(s, e) for s, e in spans if e > s])
    return header + ("… " if start > 0 else "") + body + (" …" if end < len(citation.text) else "")


def _highlighted(passage: str, highlights: Sequence[tuple[int, int]]) -> str:
    out: list[str] = []
    position = 0
    for start, end in sorted(highlights):
        if start < position:
            continue
        out.append(escape(passage[position:start]))
        out.append(f"<b>{escape(passage[start:end])}</b>")
        position = end
    out.append(escape(passage[position:]))
    return "".join(out)


def _window(passage: str, highlights: Sequence[tuple[int, int]], budget: int) -> tuple[int, int]:
    """A span of `passage` of at most `budget` UTF-16 units, cut at spaces, around the first
    highlight (a quarter of the budget before it)."""
    first = min((s for s, _ in highlights), default=0)
    start = first
    units = 0
    while start > 0 and units < budget // 4:
        start -= 1
        units += utf16_units(passage[start])
    if start > 0:
        space = passage.find(" ", start, first)
        start = space + 1 if space != -1 else start
    end, units = start, 0
    while end < len(passage) and units + utf16_units(passage[end]) <= budget:
        units += utf16_units(passage[end])
        end += 1
    if end < len(passage):
        space = passage.rfind(" ", start, end)
        end = space if space > start else end
    return start, end


def article_pages(count: int, per_page: int = ARTICLES_PER_PAGE) -> int:
    """How many pages `/sources` takes for `count` articles (at least one)."""
    return max(1, math.ceil(count / per_page))


def format_articles(
    articles: Sequence[ArticleInfo], ui: str, page: int = 1, per_page: int = ARTICLES_PER_PAGE
) -> str:
    """Page `page` (from 1) of the indexed articles: the heading, then one
    "n. title · language" line for each of its `per_page` articles. On a page too long for
    one message, long titles are shortened (20 titles always fit)."""
    if not articles:
        return text("no_articles", ui)
    first = (page - 1) * per_page
    shown = list(enumerate(articles[first : first + per_page], first + 1))

    def listing(title_units: int | None) -> str:
        lines = [f"<b>{text('articles_heading', ui, articles=len(articles))}</b>"]
        lines.extend(
            f"{i}. {escape(_shortened(a.title, title_units))} · "
            f"{escape(language_name(a.language, ui))}"
            for i, a in shown
        )
        return "\n".join(lines)

    markup = listing(None)
    return markup if visible_units(markup) <= MAX_MESSAGE_UNITS else listing(MAX_TITLE_UNITS)


def _shortened(value: str, units: int | None) -> str:
    """`value`, or when longer than `units`, its beginning cut at a word and "…"."""
    if units is None or utf16_units(value) <= units:
        return value
    return _cut_at_word(" ".join(value.split()), units - 1).rstrip(" ,.:;،") + "…"


# ----------------------------------------------------------------------------------------
# Splitting
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "open", "close", "space" or "word"
    raw: str
    units: int = 0

    @property
    def tag(self) -> str:
        match = _TAG_NAME_RE.match(self.raw)
        return match[1].lower() if match else ""


def _tokens(markup: str) -> Iterator[_Token]:
    for match in _TOKEN_RE.finditer(markup):
        raw = match[0]
        if raw.startswith("</"):
            yield _Token("close", raw)
        elif raw.startswith("<"):
            yield _Token("open", raw)
        else:
            kind = "space" if raw[0] in " \t\r\n" else "word"
            yield _Token(kind, raw, utf16_units(html.unescape(raw)))


def _regional_indicator(value: str) -> bool:
    return len(value) == 1 and "\U0001f1e6" <= value <= "\U0001f1ff"


def _clusters(raw: str) -> list[str]:
    """The characters of a word, entities whole, with combining marks, variation selectors,
    emoji modifiers, zero-width-joined emoji and flag pairs kept with what they belong to."""
    clusters: list[str] = []
    for atom in _ATOM_RE.findall(raw):
        glued = len(atom) == 1 and (
            unicodedata.combining(atom) > 0
            or atom == _ZERO_WIDTH_JOINER
            or "\ufe00" <= atom <= "\ufe0f"
            or "\U0001f3fb" <= atom <= "\U0001f3ff"
        )
        if clusters and (
            glued
            or clusters[-1].endswith(_ZERO_WIDTH_JOINER)
            or (_regional_indicator(atom) and _regional_indicator(clusters[-1]))
        ):
            clusters[-1] += atom
        else:
            clusters.append(atom)
    return clusters


def _split_word(word: _Token, limit: int) -> list[_Token]:
    """A word longer than a whole message, cut into pieces that fit, between characters."""
    pieces: list[_Token] = []
    current, units = "", 0
    for cluster in _clusters(word.raw):
        size = utf16_units(html.unescape(cluster))
        parts = [cluster] if size <= limit else _ATOM_RE.findall(cluster)  # absurd clusters
        for part in parts:
            size = utf16_units(html.unescape(part))
            if current and units + size > limit:
                pieces.append(_Token("word", current, units))
                current, units = "", 0
            current += part
            units += size
    if current:
        pieces.append(_Token("word", current, units))
    return pieces


def _open_tags(tokens: Sequence[_Token]) -> list[_Token]:
    stack: list[_Token] = []
    for token in tokens:
        if token.kind == "open":
            stack.append(token)
        elif token.kind == "close" and stack:
            stack.pop()
    return stack


def _render(tokens: Sequence[_Token], closing: Sequence[_Token]) -> str:
    first = next((i for i, t in enumerate(tokens) if t.kind != "space"), len(tokens))
    last = next((i for i in range(len(tokens) - 1, -1, -1) if tokens[i].kind != "space"), -1)
    body = "".join(t.raw for t in tokens[first : last + 1])
    return body + "".join(f"</{t.tag}>" for t in reversed(closing))


def _break_index(tokens: Sequence[_Token], limit: int) -> int | None:
    """Where to end a message: the last paragraph break in its second half, else the last
    line break there, else the last space; None when there is no space at all."""
    before = 0
    spaces: list[tuple[int, int, str]] = []  # (index, units before it, raw)
    for index, token in enumerate(tokens):
        if token.kind == "space":
            spaces.append((index, before, token.raw))
        before += token.units
    for marker in ("\n\n", "\n"):
        for index, units, raw in reversed(spaces):
            if marker in raw and units >= limit // 2:
                return index
    return spaces[-1][0] if spaces else None


def split_html(markup: str, limit: int = MAX_MESSAGE_UNITS) -> list[str]:
    """Cut an HTML text into messages of at most `limit` units each.

    Cuts fall between words (preferably at a paragraph or line break), never inside a tag or
    an entity; tags open at a cut are closed at the end of one message and opened again at
    the start of the next. A single word longer than `limit` is cut between characters.
    """
    if visible_units(markup) <= limit:
        return [markup]
    messages: list[str] = []
    current: list[_Token] = []
    units = 0
    pending = list(_tokens(markup))
    pending.reverse()
    while pending:
        token = pending.pop()
        if token.kind == "word" and token.units > limit:
            pending.extend(reversed(_split_word(token, limit)))
            continue
        while token.kind == "word" and units + token.units > limit and units > 0:
            cut = _break_index(current, limit)
            head, tail = (current, []) if cut is None else (current[:cut], current[cut + 1 :])
            still_open = _open_tags(head)
            if any(t.kind == "word" for t in head):
                messages.append(_render(head, still_open))
            current = still_open + tail
            units = sum(t.units for t in current)
        current.append(token)
        units += token.units
    if any(t.kind == "word" for t in current):
        messages.append(_render(current, []))
    return messages
