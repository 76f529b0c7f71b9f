"""The extractive answerer's helpers: what a question asks for, and the language note."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answer import SentenceVectors, asked_value, holds_value, language_note
from rag.models import RetrievedPassage
from rag.prompts import localized_table


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many users does TikTok have in the US?", "number"),
        ("Combien d’utilisateurs TikTok compte-t-il aux États-Unis ?", "number"),
        ("كم عدد مستخدمي تيك توك في الولايات المتحدة؟", "number"),
        ("When is the US version of TikTok expected to launch?", "date"),
        ("Quand la version américaine de TikTok sera-t-elle lancée ?", "date"),
        ("متى ستطلق النسخة الأمريكية من تيك توك؟", "date"),
        ("Why did Amazon ban TikTok?", "reason"),
        ("Pourquoi Amazon a-t-il interdit TikTok ?", "reason"),
        ("لماذا حظرت أمازون تيك توك؟", "reason"),
        ("Who wants to buy TikTok?", None),
        ("من يريد شراء تيك توك؟", None),
    ],
)
def test_asked_value(question: str, kind: str | None) -> None:
    assert asked_value(question) == kind


def test_holds_value_in_three_scripts() -> None:
    assert holds_value("nearly 100 million users", "number")
    assert holds_value("نحو ١٧٠ مليون مستخدم", "number")
    assert holds_value("près de quatre-vingts millions d’utilisateurs", "number")
    assert holds_value("bis zum 15. September", "date")
    assert holds_value("بحلول سبتمبر", "date")
    assert not holds_value("Microsoft will buy TikTok", "number")
    assert holds_value("حظرت التطبيق بسبب مخاوف تتعلق بالأمن", "reason")
    assert holds_value("interdit en raison des risques", "reason")
    assert not holds_value("Microsoft will buy TikTok", "reason")


def passage(language: str, title: str) -> RetrievedPassage:
    return RetrievedPassage(
        passage_id="p",
        source="a.txt",
        title=title,
        language=language,
        text="…",
        start=0,
        end=1,
        score=1.0,
    )


@pytest.mark.parametrize(
    ("question_language", "expected"),
    [
        ("en", "From the Arabic article “تيك توك يحرج أمازون في معركة الحظر”:"),
        ("fr", "D’après l’article en arabe « تيك توك يحرج أمازون في معركة الحظر » :"),
        ("de", "From the Arabic article “تيك توك يحرج أمازون في معركة الحظر”:"),
    ],
)
def test_language_note_in_the_question_language(question_language: str, expected: str) -> None:
    note = language_note(question_language, passage("ar", "تيك توك يحرج أمازون في معركة الحظر"))
    assert note == expected


def test_language_note_in_arabic_names_the_french_article() -> None:
    note = language_note("ar", passage("fr", "TikTok a pris le contrôle d’Internet"))
    assert note == "من المقال الفرنسي «TikTok a pris le contrôle d’Internet»:"


def test_a_long_title_is_shortened_in_the_note() -> None:
    note = language_note("en", passage("fr", "mot " * 40))
    assert note.endswith("…”:") and len(note) < 100


def test_every_note_table_names_the_three_languages() -> None:
    for language in ("en", "fr", "ar"):
        assert set(localized_table("from_article", language)) == {"ar", "fr", "en", "other"}


def test_sentence_vectors_embed_each_text_once() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.array([[len(text), 1.0] for text in texts])

    cache = SentenceVectors(embed, capacity=2)
    first = cache.of(["a", "bb", "a"])
    assert [v[0] for v in first] == [1.0, 2.0, 1.0]
    cache.of(["bb"])
    assert calls == [["a", "bb"]]
    cache.of(["ccc"])  # over capacity: "a", least recently used, goes
    cache.of(["a"])
    assert calls[-1] == ["a"]
