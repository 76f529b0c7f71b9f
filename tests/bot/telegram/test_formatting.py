"""Telegram HTML: escaping, answers, passages, and splitting at 4,096 UTF-16 units.

Every produced text is checked with the Telegram stand-in's parser (`parse_html`), which
validates HTML and counts lengths the way Telegram does.
"""

from __future__ import annotations

import random
import re

import pytest
from standins.telegram_api import FormattedText, parse_html, utf16_length

from bot.telegram import formatting as fmt
from prompts import localized_prompt
from rag.models import Answer, ArticleInfo, Citation
from tests.conftest import PROJECT_ROOT
from tests.sample_citations import three_passages_of_one_article

PROMPTS = PROJECT_ROOT / "prompts" / "telegram"
LIMIT = fmt.MAX_MESSAGE_UNITS


def citation(n: int = 1, **overrides: object) -> Citation:
    values: dict[str, object] = {
        "n": n,
        "source": "004_d2fbd4bb79a0c38e.txt",
        "title": "Microsoft confirms interest in TikTok",
        "language": "en",
        "text": "First sentence. The cited sentence is here. Last sentence.",
        "passage_id": "p1",
        "start": 0,
        "end": 58,
        "highlights": [(16, 43)],
    }
    values.update(overrides)
    return Citation(**values)  # type: ignore[arg-type]


def entity_texts(formatted: FormattedText, kind: str = "bold") -> list[str]:
    """The texts covered by entities of one type (offsets count UTF-16 units)."""
    encoded = formatted.text.encode("utf-16-le")
    return [
        encoded[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in formatted.entities
        if e["type"] == kind
    ]


def styled_words(formatted: FormattedText) -> list[tuple[str, frozenset[str]]]:
    """Each word of a parsed message with the entity types covering its first character."""
    words = []
    for match in re.finditer(r"\S+", formatted.text):
        start = utf16_length(formatted.text[: match.start()])
        styles = frozenset(
            e["type"]
            for e in formatted.entities
            if e["offset"] <= start < e["offset"] + e["length"]
        )
        words.append((match[0], styles))
    return words


def assert_valid_split(markup: str, parts: list[str], limit: int) -> None:
    """Every part is valid Telegram HTML within the limit, and together they hold the
    original's words, in order, with the same formatting."""
    parsed = [parse_html(part) for part in parts]
    for part in parsed:
        assert part.text.strip(), "an empty message"
        assert utf16_length(part.text.strip()) <= limit
    together = [word for part in parsed for word in styled_words(part)]
    assert together == styled_words(parse_html(markup))


# ------------------------------------------------------------------ texts and languages


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("AR-eg", "ar"),
        ("ar", "ar"),
        ("en-GB", "en"),
        ("de", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_ui_language_from_telegram_language_code(code: str | None, expected: str) -> None:
    assert fmt.ui_language(code) == expected


def test_every_telegram_text_exists_in_three_languages_and_is_valid_html() -> None:
    names = {path.name.split(".")[0] for path in PROMPTS.glob("*.*.txt")}  # localized texts
    assert {"help", "not_allowed", "rate_limited", "text_only", "error"} <= names
    samples = {
        "first_name": "<Amira & co>",
        "articles": 5,
        "languages": "x",
        "username": "newsbot_bot",
        "limit": 10,
        "seconds": 42,
        "page": 2,
        "pages": 125,
        "n": 2,
        "count": 5,
        "opening": "Microsoft will <ensure>",
        "command": "/foo<b>",
    }
    for name in sorted(names - {"commands"}):
        for language in fmt.UI_LANGUAGES:
            assert (PROMPTS / f"{name}.{language}.txt").is_file(), f"{name}.{language}.txt"
            rendered = fmt.text(name, language, **samples)
            parsed = parse_html(rendered)  # raises on invalid Telegram HTML
            assert "{" not in parsed.text, f"unfilled placeholder in {name}.{language}"
            if "first_name" in localized_prompt(f"telegram/{name}", language):
                assert "<Amira & co>" in parsed.text  # the user's name, escaped
    for language in fmt.UI_LANGUAGES:
        lines = (PROMPTS / f"commands.{language}.txt").read_text(encoding="utf-8").splitlines()
        commands = [line.split(" - ", 1) for line in lines if line.strip()]
        assert [c for c, _ in commands] == ["ask", "sources", "reset", "help"]
        assert all(1 <= len(description) <= 256 for _, description in commands)


def test_plain_text_drops_tags_and_decodes_entities() -> None:
    assert fmt.plain_text("help", "en", first_name="A&B", articles=1, languages="x", username="b")
    assert "<" not in fmt.plain_text("expired", "ar")


def test_language_lists_read_naturally() -> None:
    names = {ui: [fmt.language_name(c, ui) for c in ("ar", "fr", "en")] for ui in ("en", "fr")}
    assert fmt.join_names(names["en"], "en") == "Arabic, French and English"
    assert fmt.join_names(names["fr"], "fr") == "arabe, français et anglais"
    arabic = [fmt.language_name(c, "ar") for c in ("ar", "fr", "en")]
    assert fmt.join_names(arabic, "ar") == "العربية والفرنسية والإنجليزية"
    assert fmt.join_names(["English"], "en") == "English"


# ------------------------------------------------------------------ answers and passages


def test_answer_escapes_article_text_and_lists_sources() -> None:
    answer = Answer(
        question="q",
        answer='The <script>alert("x")</script> tag & the <b> tag [1] [2]',
        abstained=False,
        language="en",
        citations=[
            citation(1, title="Browsers & <i>tags</i>", passage=2, passages=5),
            citation(2, title="تيك توك", language="ar", source="001.txt", text="<تيك> توك"),
        ],
        notices=["The question was <long>."],
    )
    parsed = parse_html(fmt.format_answer(answer, "en"))
    assert parsed.text == (
        'The <script>alert("x")</script> tag & the <b> tag [1] [2]\n\n'
        "The question was <long>.\n\n"
        "Sources\n"
        "Browsers & <i>tags</i> · English\n"
        "[1] passage 2 of 5 · \u2068“The cited sentence is here.”\u2069\n"
        "تيك توك · Arabic\n"
        "[2] \u2068“<تيك> توك”\u2069"
    )
    bold = ["Sources", "Browsers & <i>tags</i>", "تيك توك"]
    assert [e["type"] for e in parsed.entities] == ["italic", "bold", "bold", "bold"]
    assert entity_texts(parsed) == bold


def test_answer_labels_follow_the_answers_language() -> None:
    answer = Answer(
        question="q",
        answer="جواب [1]",
        abstained=False,
        language="ar",
        citations=[citation(1, language="fr", passage=1, passages=3)],
    )
    labels = fmt.answer_language(answer, "en")
    assert labels == "ar"
    sources = (
        "المصادر\nMicrosoft confirms interest in TikTok · الفرنسية\n"
        "[1] المقطع 1 من 3 · \u2068«The cited sentence is here.»\u2069"
    )
    assert parse_html(fmt.format_answer(answer, labels)).text.endswith(sources)
    undetermined = answer.model_copy(update={"language": "und"})
    assert fmt.answer_language(undetermined, "fr") == "fr"


def test_an_abstention_has_no_source_list() -> None:
    answer = Answer(question="q", answer="Nothing in the articles.", abstained=True, language="en")
    assert fmt.format_answer(answer, "en") == "Nothing in the articles."


def test_passage_shows_the_cited_sentences_in_bold() -> None:
    passage = "Intro & more. The <cited> one. Middle. Second cited. End."
    spans = [(passage.find(s), passage.find(s) + len(s)) for s in ("The <", "Second cited.")]
    spans[0] = (spans[0][0], passage.find(" Middle"))
    cited = citation(text=passage, highlights=spans, passage=4, passages=4)
    parsed = parse_html(fmt.format_passage(cited, "fr"))
    assert entity_texts(parsed) == [
        "[1] Microsoft confirms interest in TikTok",
        "The <cited> one.",
        "Second cited.",
    ]
    assert parsed.text.startswith(
        "[1] Microsoft confirms interest in TikTok\n"
        "passage 4 sur 4 · \u2068«\u00a0The <cited> one.\u00a0»\u2069\n"
        "anglais · 004_d2fbd4bb79a0c38e.txt\n\n"
    )
    assert parsed.text.endswith("Intro & more. The <cited> one. Middle. Second cited. End.")


def test_a_passage_too_long_for_one_message_is_shown_around_its_cited_sentence() -> None:
    before = "Avant & après. " * 700
    sentence = "La phrase citée 😀 est ici."
    passage = before + sentence + " Fin du passage. " * 700
    start = len(before)
    cited = citation(text=passage, highlights=[(start, start + len(sentence))], language="fr")
    markup = fmt.format_passage(cited, "fr")
    parsed = parse_html(markup)
    assert utf16_length(parsed.text) <= LIMIT
    assert entity_texts(parsed)[1] == sentence
    body = parsed.text.split("\n\n", 1)[1]
    assert body.startswith("… ") and body.endswith(" …")
    assert set(body.split()[1:-1]) <= set(passage.split())  # cut between words


def visible(label: str) -> str:
    """A label without the invisible marks that isolate its quoted opening."""
    return label.replace("\u2068", "").replace("\u2069", "")


def test_button_labels_are_short_and_cut_at_a_word() -> None:
    sentence = "Microsoft will ensure that this data is removed from servers outside."
    cited = citation(2, text=sentence, highlights=[(0, len(sentence))], passage=2, passages=5)
    labels = {ui: visible(fmt.button_label(cited, ui)) for ui in fmt.UI_LANGUAGES}
    assert labels == {
        "en": "[2] passage 2 of 5 · “Microsoft will ensure…”",
        "fr": "[2] passage 2 sur 5 · «\u00a0Microsoft will ensure…\u00a0»",
        "ar": "[2] المقطع 2 من 5 · «Microsoft will ensure…»",
    }
    assert all(len(label) <= fmt.MAX_BUTTON_CHARS for label in labels.values())
    short = citation(1, text="Short  sentence.", highlights=[(0, 16)])
    assert visible(fmt.button_label(short, "en")) == "[1] “Short sentence.”"
    arabic = "شركة تيك توك تخطط لإطلاق نسخة أميركية مستقلة بحلول عام 2025 بسبب ضغوط"
    label = visible(
        fmt.button_label(citation(1, text=arabic, highlights=[], passage=1, passages=1), "ar")
    )
    assert label.endswith("…»") and len(label) <= fmt.MAX_BUTTON_CHARS
    assert arabic.startswith(label.split("«")[1][:-2])


@pytest.mark.parametrize(
    ("ui", "heading", "place", "english", "arabic"),
    [
        ("en", "Sources", "passage {} of {}", "English", "Arabic"),
        ("fr", "Sources", "passage {} sur {}", "anglais", "arabe"),
        ("ar", "المصادر", "المقطع {} من {}", "الإنجليزية", "العربية"),
    ],
)
def test_passages_of_one_article_are_listed_under_its_title_with_distinct_labels(
    ui: str, heading: str, place: str, english: str, arabic: str
) -> None:
    citations = three_passages_of_one_article()
    answer = Answer(
        question="q",
        answer="A [1]. B [2]. C [3]. D [4].",
        abstained=False,
        language=ui,
        citations=citations,
    )
    parsed = parse_html(fmt.format_answer(answer, ui))
    sources = visible(parsed.text).split("\n\n")[-1].splitlines()
    title, other = citations[0].title, citations[1].title
    quote = fmt.plain_text("quoted", ui, opening="{}")
    assert sources == [
        heading,
        f"{title} · {english}",
        "[1] " + place.format(2, 5) + " · " + quote.format("To the extent that such data…"),
        "[3] "
        + place.format(4, 5)
        + " · "
        + quote.format("The two companies have notified their…"),
        "[4] " + place.format(3, 5) + " · " + quote.format("Microsoft fully appreciates the…"),
        f"{other} · {arabic}",
        "[2] "
        + place.format(1, 3)
        + " · "
        + quote.format("تعرضت شركة أمازون الأمريكية لموقف محرج…"),
    ]
    assert parsed.text.count(title) == 1
    assert entity_texts(parsed) == [heading, title, other]
    buttons = [visible(fmt.button_label(c, ui)) for c in citations]
    assert len(set(buttons)) == 4
    assert [b.split()[0] for b in buttons] == ["[1]", "[2]", "[3]", "[4]"]
    assert all(len(b) <= fmt.MAX_BUTTON_CHARS for b in buttons)
    passages = [parse_html(fmt.format_passage(c, ui)).text for c in citations]
    assert len({p.splitlines()[1] for p in passages}) == 4
    assert "[3] " + visible(passages[2].splitlines()[1]) == sources[3]  # the same label
    for shown in [parsed.text, *buttons, *passages]:
        assert "characters" not in shown and "716" not in shown


def test_article_list() -> None:
    articles = [
        ArticleInfo(source="a.txt", title="Tags <b> & co", language="en", passages=3, path="a"),
        ArticleInfo(source="b.txt", title="تيك توك", language="ar", passages=1, path="b"),
    ]
    parsed = parse_html(fmt.format_articles(articles, "fr"))
    assert parsed.text.splitlines() == [
        "Articles indexés (2)\u202f:",
        "1. Tags <b> & co · anglais",
        "2. تيك توك · arabe",
    ]
    assert fmt.format_articles([], "en") == "No articles are indexed yet."


def test_article_list_pages() -> None:
    assert [fmt.article_pages(n) for n in (0, 1, 20, 21, 2500)] == [1, 1, 1, 2, 125]
    articles = [
        ArticleInfo(source=f"{i}.txt", title=f"Brief {i}", language="fr", passages=1, path="p")
        for i in range(1, 46)
    ]
    page_2 = parse_html(fmt.format_articles(articles, "en", page=2)).text.splitlines()
    assert page_2[0] == "Indexed articles (45):"
    assert page_2[1:] == [f"{i}. Brief {i} · French" for i in range(21, 41)]
    page_3 = parse_html(fmt.format_articles(articles, "en", page=3)).text.splitlines()
    assert page_3[1:] == [f"{i}. Brief {i} · French" for i in range(41, 46)]


def test_a_page_of_articles_always_fits_in_one_message() -> None:
    titles = ["🎵" * 3000, "تيك توك " * 400, "<b>&amp;</b> " * 500, "x" * 10_000]
    articles = [
        ArticleInfo(source=f"{i}.txt", title=titles[i % 4], language="ar", passages=1, path="p")
        for i in range(1_000_000, 1_000_040)
    ]
    markup = fmt.format_articles(articles, "fr", page=2)
    parsed = parse_html(markup)  # valid HTML: no title was cut inside an entity
    assert utf16_length(parsed.text) <= LIMIT and fmt.split_html(markup) == [markup]
    lines = parsed.text.splitlines()[1:]
    assert len(lines) == 20 and lines[0].startswith("21. ")
    for line in lines:
        title = line.split(". ", 1)[1].removesuffix(" · arabe")
        assert title.endswith("…") and utf16_length(title) <= fmt.MAX_TITLE_UNITS
        assert any(t.startswith(title[:-1]) for t in titles) or "&" in title


# ------------------------------------------------------------------ splitting


def test_a_short_text_is_one_message() -> None:
    assert fmt.split_html("<b>Hello</b> &amp; bye") == ["<b>Hello</b> &amp; bye"]


def test_exactly_the_limit_fits_and_one_more_unit_splits() -> None:
    words = ("abcd " * 820).strip()  # 4,099 characters
    fitting = words[:LIMIT].rstrip()
    assert fmt.split_html(fitting) == [fitting]
    parts = fmt.split_html(words)
    assert len(parts) == 2
    assert_valid_split(words, parts, LIMIT)


def test_splitting_a_5000_character_answer_keeps_tags_entities_and_words() -> None:
    sentence = "Microsoft &amp; <u>ByteDance</u> talk about <i>TikTok &lt;US&gt; data</i>. "
    markup = "<b>" + sentence * 50 + "</b>\n\n<blockquote>" + sentence * 50 + "</blockquote>"
    assert fmt.visible_units(markup) > 5000
    parts = fmt.split_html(markup)
    assert len(parts) == 2
    assert_valid_split(markup, parts, LIMIT)
    assert parts[0].endswith("</b>")  # the split falls at the paragraph break


def test_a_tag_open_at_the_cut_is_closed_and_reopened() -> None:
    markup = '<a href="https://example.org/?a=1&amp;b=2">' + "link text " * 600 + "</a>"
    parts = fmt.split_html(markup)
    assert len(parts) == 2
    assert parts[0].endswith("</a>")
    assert parts[1].startswith('<a href="https://example.org/?a=1&amp;b=2">')
    assert_valid_split(markup, parts, LIMIT)


def test_lengths_are_counted_in_utf16_units_arabic_and_emoji() -> None:
    emoji = "📰😀 " * 1500  # 4 units and one space per word: 7,500 units, 4,500 code points
    parts = fmt.split_html(emoji)
    assert len(parts) == 2  # would fit in 2 by code points too, but the first cut is earlier
    first = parse_html(parts[0]).text
    assert len(first) < 2500 and 4000 < utf16_length(first) <= LIMIT
    assert_valid_split(emoji, parts, LIMIT)

    arabic = "وَقَالَ رَئِيسُ مَايكرُوسُوفت إِنَّ الـمُحَادَثَات مُسْتَمِرَّة؟ " * 150
    parts = fmt.split_html(fmt.escape(arabic))
    assert len(parts) == 3
    assert_valid_split(fmt.escape(arabic), parts, LIMIT)


def test_a_word_longer_than_a_message_is_cut_between_characters_only() -> None:
    family = "👨\u200d👩\u200d👧"  # one emoji made of 5 code points (8 UTF-16 units)
    word = ("x&amp;" + family + "é") * 800  # no spaces at all; "é" here is e + combining acute
    word = word.replace("é", "e\u0301")
    parts = fmt.split_html(word, limit=100)
    for part in parts:
        text = parse_html(part).text
        assert utf16_length(text) <= 100
        assert not text.startswith(("\u200d", "\u0301", "👩", "👧"))
        assert not text.endswith("\u200d")
    assert "".join(parse_html(p).text for p in parts) == parse_html(word).text


def test_random_markup_splits_correctly_at_small_limits() -> None:
    rng = random.Random(6)
    vocabulary = ["TikTok", "l’application", "«\u202fdonnées\u202f»", "تيك", "توك", "😀", "&amp;"]
    vocabulary += ["&lt;script&gt;", "a", "Microsoft", "الولايات", "ﻻ", "🇫🇷", "x" * 30]
    for _ in range(300):
        pieces: list[str] = []
        for _ in range(rng.randint(1, 60)):
            word = rng.choice(vocabulary)
            if rng.random() < 0.15:
                tag = rng.choice(["b", "i", "u", "code"])
                word = f"<{tag}>{word} {rng.choice(vocabulary)}</{tag}>"
            pieces.append(word)
            pieces.append(rng.choice([" ", " ", "\n", "\n\n", "  "]))
        markup = "".join(pieces).strip()
        limit = rng.randint(30, 120)
        parts = fmt.split_html(markup, limit)
        assert_valid_split(markup, parts, limit)


def long_answer(text: str, language: str = "en") -> Answer:
    return Answer(
        question="q",
        answer=text,
        abstained=False,
        language=language,
        citations=[
            citation(1),
            citation(2, title="تيك توك", language="ar", source="001.txt", passage=3, passages=4),
        ],
        notices=["The question was <long>."],
    )


def test_an_answer_that_fits_its_messages_is_not_shortened() -> None:
    answer = long_answer("Microsoft promised [1]. " * 300)  # 7,200 characters: 2 messages
    whole = fmt.format_answer(answer, "en")
    assert fmt.answer_messages(answer, "en", 3) == fmt.split_html(whole)
    assert len(fmt.answer_messages(answer, "en", 2)) == 2
    assert fmt.plain_text("shortened", "en") not in parse_html(whole).text


@pytest.mark.parametrize("max_messages", [1, 2, 3, 5])
@pytest.mark.parametrize(
    ("sentence", "ui"),
    [
        ("Microsoft promised that the data would stay in the US [1]. ", "en"),
        ("وعدت مايكروسوفت ببقاء البيانات 🇺🇸 في الولايات المتحدة [2].\n\n", "ar"),
        ("Les <données> & les serveurs resteront aux États-Unis [1]. ", "fr"),
    ],
)
def test_an_answer_too_long_for_its_messages_is_cut_at_a_word_with_a_note(
    max_messages: int, sentence: str, ui: str
) -> None:
    answer = long_answer(sentence * (1_000_000 // len(sentence)), ui)  # a megabyte
    parts = fmt.answer_messages(answer, ui, max_messages)
    assert len(parts) == max_messages
    texts = [parse_html(part).text for part in parts]  # each part is valid HTML
    assert all(utf16_length(text) <= LIMIT for text in texts)
    kept, rest = " ".join(texts).split(" …", 1)
    words = kept.split()
    assert words == answer.answer.split()[: len(words)]  # its beginning, cut between words
    assert rest.lstrip().startswith(fmt.plain_text("shortened", ui))
    assert "The question was <long>." in rest
    assert rest.endswith(
        f"تيك توك · {fmt.language_name('ar', ui)}\n[2] {fmt.passage_label(answer.citations[1], ui)}"
    )
    # Little of the room is wasted: the kept text fills most of the messages.
    assert utf16_length(kept) > (max_messages - 0.5) * LIMIT - 300


def test_an_answer_of_one_huge_word_of_emoji_is_cut_between_characters() -> None:
    answer = long_answer("🎵" * 500_000)  # 2 UTF-16 units each
    parts = fmt.answer_messages(answer, "en", 3)
    texts = [parse_html(part).text for part in parts]
    assert len(parts) == 3 and all(utf16_length(text) <= LIMIT for text in texts)
    kept = " ".join(texts).split(" …", 1)[0].replace(" ", "")
    assert set(kept) == {"🎵"} and utf16_length(kept) > 2 * LIMIT


def test_partial_answer_is_valid_html_showing_the_text_so_far() -> None:
    partial = fmt.partial_answer("  Microsoft <b>& «TikTok» </i>")
    assert parse_html(partial).text == "Microsoft <b>& «TikTok» </i> …"
    assert parse_html(partial).entities == []
    assert fmt.partial_answer(" \n") == ""
    long = fmt.partial_answer("تيك توك 🎵 & " * 1000)
    shown = parse_html(long).text
    assert utf16_length(shown) <= fmt.MAX_MESSAGE_UNITS and shown.endswith(" …")
    assert ("تيك توك 🎵 & " * 1000).startswith(shown.removesuffix(" …"))


def test_no_control_character_of_an_article_reaches_the_chat() -> None:
    hostile = citation(
        title="Breaking\x1b]0;HACKED\x07 news",
        source="world/odd\nname.txt",
        text="First sentence.\x1b[2J The cited\x9b31m sentence is here. Last sentence.",
    )
    answer = Answer(
        question="q",
        answer="The cited\x1b[5m sentence is here. [1]",
        language="en",
        abstained=False,
        citations=[hostile],
        notices=[],
    )
    shown = [fmt.format_answer(answer, "en"), fmt.format_passage(hostile, "en")]
    shown.append(
        fmt.format_articles(
            [ArticleInfo(source="a", title="T\x07itle", language="en", passages=1, path="a")], "en"
        )
    )
    for markup in shown:
        text = parse_html(markup).text
        assert not [c for c in text if c != "\n" and (c < " " or "\x7f" <= c <= "\x9f")], text
    assert "world/odd\\nname.txt" in parse_html(shown[1]).text
