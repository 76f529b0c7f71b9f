"""The data that crosses the engine's boundary: what a citation's label quotes."""

from __future__ import annotations

from rag.models import opening_words


def test_an_opening_is_cut_at_a_word_without_the_sentences_own_quotes() -> None:
    assert opening_words("« Microsoft veillerait à ce que toutes les données") == (
        "Microsoft veillerait à ce que toutes…"
    )
    assert opening_words("“To the extent that such data is stored”") == (
        "To the extent that such data…"
    )
    assert opening_words('"تعرضت شركة أمازون الأمريكية لموقف محرج بعد أن') == (
        "تعرضت شركة أمازون الأمريكية لموقف محرج…"
    )
    assert opening_words("Microsoft declined to comment.") == "Microsoft declined to comment."
    assert opening_words("Microsoft will ensure that, this data", chars=28) == (
        "Microsoft will ensure that…"
    )
    link = "https://example.com/" + "a" * 60
    assert opening_words(link) == link[:40] + "…"
