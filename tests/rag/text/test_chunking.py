from __future__ import annotations

import itertools

import pytest

from rag.text.chunking import chunk_spans, split_sentences
from tests.conftest import SEED_FILES, SEEDS_DIR


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


class TestSentences:
    def test_english(self) -> None:
        text = "Microsoft will buy TikTok. Donald J. Trump agreed! Is it done? Not yet."
        assert sentences(text) == [
            "Microsoft will buy TikTok.",
            "Donald J. Trump agreed!",
            "Is it done?",
            "Not yet.",
        ]

    def test_abbreviations_do_not_end_sentences(self) -> None:
        assert len(sentences("The U.S. government acted. It was fast.")) == 2

    def test_arabic_question_mark_and_comma(self) -> None:
        text = "هل تبيع تيك توك؟ قالت الشركة، في بيان، إنها لن تبيع. انتهى."
        assert sentences(text) == [
            "هل تبيع تيك توك؟",
            "قالت الشركة، في بيان، إنها لن تبيع.",
            "انتهى.",
        ]

    def test_french_guillemets_close_the_sentence(self) -> None:
        text = "Il a déclaré : « Nous restons. » Puis il est parti. «Fin.» Voilà."
        assert sentences(text) == [
            "Il a déclaré : « Nous restons. »",
            "Puis il est parti.",
            "«Fin.»",
            "Voilà.",
        ]

    def test_lines_are_sentences_and_stray_quotes_join_the_previous_one(self) -> None:
        text = "Title line\n\nFirst sentence. “\n\nSecond"
        assert sentences(text) == ["Title line", "First sentence. “", "Second"]

    def test_lowercase_continuation_is_not_a_boundary(self) -> None:
        assert len(sentences("It costs approx. ten dollars.")) == 1


class TestChunks:
    @pytest.mark.parametrize("name", SEED_FILES)
    def test_spans_map_back_to_the_article(self, name: str) -> None:
        text = (SEEDS_DIR / name).read_text(encoding="utf-8")
        spans = chunk_spans(text, 600, 100)
        assert spans
        for span in spans:
            passage = text[span.start : span.end]
            assert passage == passage.strip() and passage
            assert span.end - span.start <= 600
        covered = set()
        for span in spans:
            covered.update(range(span.start, span.end))
        letters = {i for i, ch in enumerate(text) if ch.isalnum()}
        assert letters <= covered, "every word of the article is in some passage"

    def test_overlap_repeats_trailing_sentences(self) -> None:
        text = " ".join(f"Sentence number {i} is here." for i in range(40))
        spans = chunk_spans(text, 200, 60)
        for before, after in itertools.pairwise(spans):
            assert after.start < before.end, "consecutive passages overlap"
            assert after.start > before.start

    def test_no_overlap(self) -> None:
        text = " ".join(f"Sentence number {i} is here." for i in range(40))
        spans = chunk_spans(text, 200, 0)
        for before, after in itertools.pairwise(spans):
            assert after.start >= before.end

    def test_overlong_sentence_is_cut_at_arabic_commas(self) -> None:
        clause = "وقالت الشركة إنها ستواصل المحادثات مع الحكومة الأمريكية"
        text = "، ".join([clause] * 30) + "."
        spans = chunk_spans(text, 300, 0)
        assert len(spans) > 1
        for span in spans:
            assert span.end - span.start <= 300
        assert all(text[s.end - 1] in "،." for s in spans)
