"""Plain-text rendering (`newsbot ask`, and the REPL in a pipe)."""

from __future__ import annotations

import re

from bot.render import by_article, passage_label, render_answer, render_passage
from rag.models import Answer
from tests.sample_citations import ARABIC_TITLE, ENGLISH_TITLE, three_passages_of_one_article


def test_sources_are_grouped_by_article_each_passage_labelled_by_place_and_opening() -> None:
    citations = three_passages_of_one_article()
    answer = Answer(
        question="q",
        answer="A [1]. B [2]. C [3]. D [4].",
        abstained=False,
        language="en",
        citations=citations,
    )
    out = render_answer(answer)
    text, sources = out.split("\n\nSources\n")
    assert text == answer.answer
    not_passage_text = [line for line in sources.splitlines() if not line.startswith(" " * 8)]
    assert not_passage_text == [
        ENGLISH_TITLE,
        "    004_d2fbd4bb79a0c38e.txt · English",
        "    [1] passage 2 of 5 · “To the extent that such data…”",
        "    [3] passage 4 of 5 · “The two companies have notified their…”",
        "    [4] passage 3 of 5 · “Microsoft fully appreciates the…”",
        ARABIC_TITLE,
        "    001_338fab047889f1f1.txt · Arabic",
        "    [2] passage 1 of 3 · “تعرضت شركة أمازون الأمريكية لموقف محرج…”",
    ]
    assert out.count(ENGLISH_TITLE) == 1
    for citation in citations:  # each passage whole, after its label
        after_label = sources.split(f"[{citation.n}] ", 1)[1]
        assert " ".join(after_label.split()).split("” ", 1)[1].startswith(citation.text)
    assert "characters" not in out
    assert not any(re.search(rf"\b{c.start}\W+{c.end}\b", out) for c in citations)


def test_articles_come_in_the_order_of_their_first_citation() -> None:
    citations = three_passages_of_one_article()
    groups = by_article(list(reversed(citations)))
    assert [[c.n for c in group] for group in groups] == [[1, 3, 4], [2]]


def test_a_shown_passage_says_where_it_sits_and_what_it_is_cited_for() -> None:
    citation = three_passages_of_one_article()[2]
    out = render_passage(citation)
    assert out.splitlines()[:2] == [
        f"[3] {ENGLISH_TITLE}",
        "    004_d2fbd4bb79a0c38e.txt · English · "
        "passage 4 of 5 · “The two companies have notified their…”",
    ]
    assert (
        "characters" not in out and str(citation.start) not in out and str(citation.end) not in out
    )


def test_a_label_without_a_known_place_is_the_opening_alone() -> None:
    citation = three_passages_of_one_article()[0].model_copy(
        update={"passage": None, "passages": None}
    )
    assert passage_label(citation) == "“To the extent that such data…”"
