"""Citations made by hand for the renderers' tests: several passages of one article."""

from __future__ import annotations

from rag.models import Citation

ENGLISH_TITLE = "Microsoft confirms interest in TikTok: there will be a purchase before September"
ARABIC_TITLE = "تيك توك يحرج أمازون في معركة الحظر"
ARABIC_SENTENCE = "تعرضت شركة أمازون الأمريكية لموقف محرج بعد أن طالبت موظفيها بحظر التطبيق."
SENTENCES = {
    1: "To the extent that such data is stored outside, Microsoft will remove it.",
    3: "The two companies have notified their intention to explore a proposal.",
    4: "Microsoft fully appreciates the importance of the President’s concerns.",
}
PLACES = {1: 2, 3: 4, 4: 3}


def three_passages_of_one_article() -> list[Citation]:
    """[1], [3] and [4]: passages 2, 4 and 3 of 5 of an English article, each with one
    cited sentence; [2]: passage 1 of 3 of an Arabic article, nothing highlighted."""
    english = [
        Citation(
            n=n,
            source="004_d2fbd4bb79a0c38e.txt",
            title=ENGLISH_TITLE,
            language="en",
            text=f"Before. {sentence} After.",
            passage_id=f"p{PLACES[n]}",
            start=716 * PLACES[n],
            end=716 * PLACES[n] + 858,
            highlights=[(8, 8 + len(sentence))],
            passage=PLACES[n],
            passages=5,
        )
        for n, sentence in SENTENCES.items()
    ]
    arabic = Citation(
        n=2,
        source="001_338fab047889f1f1.txt",
        title=ARABIC_TITLE,
        language="ar",
        text=ARABIC_SENTENCE,
        passage_id="a1",
        start=0,
        end=len(ARABIC_SENTENCE),
        passage=1,
        passages=3,
    )
    return [english[0], arabic, *english[1:]]
