from __future__ import annotations

import pytest

from rag.text.language import detect_language
from tests.conftest import SEEDS_DIR


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("ماذا وعدت مايكروسوفت بشأن تخزين البيانات؟", "ar"),
        ("Qu’a promis Microsoft au sujet des données ?", "fr"),
        ("Pourquoi Amazon a-t-il interdit TikTok ?", "fr"),
        ("What did Microsoft promise about data storage?", "en"),
        ("Why did Wells Fargo ban TikTok?", "en"),
        ("TikTok تيك توك", "ar"),
        ("12345 !!!", "und"),
        ("", "und"),
        ("TikTok", "und"),
        ("Sécurité", "fr"),
    ],
)
def test_detects(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("000_df82538c9e46931c.txt", "ar"),
        ("001_338fab047889f1f1.txt", "ar"),
        ("002_bbda794efd4ec002.txt", "fr"),
        ("003_9ef1e0992aeb8b7c.txt", "ar"),
        ("004_d2fbd4bb79a0c38e.txt", "en"),
    ],
)
def test_seed_articles(name: str, language: str) -> None:
    assert detect_language((SEEDS_DIR / name).read_text(encoding="utf-8")) == language
