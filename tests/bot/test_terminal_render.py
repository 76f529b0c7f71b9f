"""The REPL's rich rendering, captured from a real Console."""

from __future__ import annotations

import io

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from bot.bidi_reorder import reorder
from bot.terminal_render import CITED_STYLE, MARKER_STYLE, TerminalRenderer, excerpt
from rag.engine import Engine
from rag.models import Answer, Citation
from tests.sample_citations import three_passages_of_one_article

ARABIC_QUESTION = "لماذا تراجعت أمازون عن حظر تيك توك؟"


def capture(bidi: str = "terminal", width: int = 100) -> tuple[TerminalRenderer, io.StringIO]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False, markup=False)
    return TerminalRenderer(console, "reorder" if bidi == "reorder" else "terminal"), buffer


def styles_at(text: Text, position: int) -> list[str]:
    return [str(span.style) for span in text.spans if span.start <= position < span.end]


def test_excerpt_highlights_the_cited_sentence_with_some_context() -> None:
    passage = (
        "Opening words of the passage that nobody cited at all here. "
        "Microsoft will keep the data in the United States. "
        "Closing remarks follow, and they go on for quite a while longer than needed.\n"
        "Another paragraph."
    )
    start = passage.index("Microsoft")
    end = passage.index("States.") + len("States.")
    shown = excerpt(passage, [(start, end)], context=20)
    plain = shown.plain
    assert plain.startswith("… ") and plain.endswith(" …")
    assert "Microsoft will keep the data in the United States." in plain
    assert "Opening" not in plain and "Another paragraph" not in plain
    cited_at = plain.index("Microsoft")
    assert CITED_STYLE in styles_at(shown, cited_at)
    assert CITED_STYLE not in styles_at(shown, plain.index("Closing"))


def test_excerpt_without_highlights_shows_the_beginning() -> None:
    shown = excerpt("one two three " * 50, [], limit=40)
    assert shown.plain.startswith("one two") and shown.plain.endswith("…")
    assert len(shown.plain) <= 45


def test_excerpt_collapses_white_space_and_disarms_control_characters() -> None:
    shown = excerpt("Before\n\n  cited\x1b[31m text   here\tend", [(10, 29)])
    assert "\x1b" not in shown.plain and "  " not in shown.plain


def arabic_answer(engine: Engine) -> Answer:
    answer = engine.reply(ARABIC_QUESTION).answer
    assert not answer.abstained and answer.citations
    return answer


def test_terminal_mode_prints_arabic_in_logical_order(seeded_engine: Engine) -> None:
    answer = arabic_answer(seeded_engine)
    renderer, buffer = capture("terminal")
    renderer.answer(answer)
    out = buffer.getvalue()
    assert "أمازون" in out and "نوزامأ" not in out
    assert "001_338fab047889f1f1.txt" in out


def test_reorder_mode_changes_only_what_is_displayed(seeded_engine: Engine) -> None:
    answer = arabic_answer(seeded_engine)
    before = answer.model_dump()
    renderer, buffer = capture("reorder")
    renderer.answer(answer)
    out = buffer.getvalue()
    assert answer.model_dump() == before
    assert "نوزامأ" in out  # أمازون in visual order
    assert "001_338fab047889f1f1.txt" in out  # left-to-right text is untouched
    first_line = out.splitlines()[0]
    first_word = answer.answer.split()[0]
    assert first_line.rstrip().endswith(reorder(first_word, rtl=True)[-1])  # right-aligned RTL
    assert cell_len(first_line) == 100  # combining marks take no cell


def test_reordered_lines_keep_their_colours(seeded_engine: Engine) -> None:
    answer = arabic_answer(seeded_engine)
    renderer, _ = capture("reorder")
    body = Text(answer.answer)
    body.stylize(MARKER_STYLE, answer.answer.index("[1]"), answer.answer.index("[1]") + 3)
    lines = renderer.lines(body)
    marked = [line for line in lines if "[1]" in line.plain]
    assert marked
    position = marked[0].plain.index("[1]")
    for offset in range(3):
        assert MARKER_STYLE in styles_at(marked[0], position + offset)


@pytest.mark.parametrize("width", [60, 100, 160])
def test_banner_is_one_line(seeded_engine: Engine, width: int) -> None:
    renderer, buffer = capture(width=width)
    renderer.banner(seeded_engine.stats())
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 1 and "5 articles" in lines[0] and "21 passages" in lines[0]


def test_passage_shows_its_place_and_marks_the_cited_span() -> None:
    citation = Citation(
        n=2,
        source="x.txt",
        title="A title",
        language="fr",
        text="Première phrase. Phrase citée ici. Fin.",
        passage_id="p",
        start=100,
        end=139,
        highlights=[(17, 34)],
        passage=3,
        passages=7,
    )
    renderer, buffer = capture()
    renderer.passage(citation)
    out = buffer.getvalue()
    assert "[2] A title" in out
    assert "x.txt · French · passage 3 of 7 · “Phrase citée ici.”" in out
    assert "characters" not in out and "100" not in out
    body = renderer.lines(Text(citation.text))
    assert body[0].plain == citation.text


def test_articles_fit_the_width_in_both_modes(seeded_engine: Engine) -> None:
    for mode in ("terminal", "reorder"):
        renderer, buffer = capture(mode, width=80)
        renderer.articles(seeded_engine.articles())
        lines = buffer.getvalue().splitlines()
        assert len(lines) == 6 and lines[-1] == "5 articles, 21 passages"
        assert all(len(line) <= 80 for line in lines)


def test_sources_are_grouped_by_article_with_a_label_per_passage() -> None:
    answer = Answer(
        question="q",
        answer="A [1]. B [2]. C [3]. D [4].",
        abstained=False,
        language="en",
        citations=three_passages_of_one_article(),
    )
    renderer, buffer = capture(width=100)
    renderer.answer(answer)
    lines = buffer.getvalue().splitlines()
    assert lines[0] == answer.answer and lines[1] == ""
    sources = [line for line in lines[2:] if not line.startswith(" " * 8)]  # not the excerpts
    assert sources == [
        "Microsoft confirms interest in TikTok: there will be a purchase before September",
        "    004_d2fbd4bb79a0c38e.txt · English",
        "    [1] passage 2 of 5 · “To the extent that such data…”",
        "    [3] passage 4 of 5 · “The two companies have notified their…”",
        "    [4] passage 3 of 5 · “Microsoft fully appreciates the…”",
        "تيك توك يحرج أمازون في معركة الحظر",
        "    001_338fab047889f1f1.txt · Arabic",
        "    [2] passage 1 of 3 · “تعرضت شركة أمازون الأمريكية لموقف محرج…”",
    ]
    assert "characters" not in buffer.getvalue() and "716" not in buffer.getvalue()


def test_arabic_labels_are_laid_out_in_reorder_mode() -> None:
    citations = three_passages_of_one_article()
    answer = Answer(
        question="q", answer="جواب [2].", abstained=False, language="ar", citations=[citations[1]]
    )
    renderer, buffer = capture("reorder", width=100)
    renderer.answer(answer)
    lines = buffer.getvalue().splitlines()
    label = next(line for line in lines if "[2] passage 1 of 3" in line)
    opening = "تعرضت شركة أمازون الأمريكية لموقف محرج"
    assert opening not in label and reorder(opening, rtl=False) in label
