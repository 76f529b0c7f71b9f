"""Scoring a question set: each figure against values computed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import BadInputError
from rag.evaluation.runs import build_run, load_run
from rag.evaluation.scoring import (
    CitedSource,
    GroupFigures,
    aggregate,
    below_floors,
    breakdown,
    citation_precision,
    contains_keyword,
    crossing_of,
    first_rank,
    hygiene_problems,
    invalid_markers,
    miss_reasons,
    missing_keyword_groups,
    parse_floors,
    percentile,
    ranked_sources,
    score,
    scored,
)
from rag.models import RetrievedPassage
from tests.rag.evaluation.results import five_results, make_result


def passage(source: str) -> RetrievedPassage:
    return RetrievedPassage(
        passage_id=source,
        source=source,
        title="t",
        language="en",
        text="x",
        start=0,
        end=1,
        score=1,
    )


class TestRetrieval:
    def test_ranked_sources_keep_rank_order_once_each(self) -> None:
        passages = [passage(s) for s in ["b.txt", "a.txt", "b.txt", "c.txt", "a.txt"]]
        assert ranked_sources(passages) == ["b.txt", "a.txt", "c.txt"]

    def test_first_rank(self) -> None:
        assert first_rank(["b", "c", "a"], ["a", "z"]) == 3
        assert first_rank(["b", "c", "a"], ["c", "a"]) == 2
        assert first_rank(["b"], ["a"]) is None
        assert first_rank([], ["a"]) is None

    def test_hits_and_reciprocal_rank(self) -> None:
        third = score(make_result(ranked_sources=["b", "c", "a.txt"]))
        assert (third.rank, third.hit_at_1, third.hit_at_3, third.hit_at_5) == (
            3,
            False,
            True,
            True,
        )
        assert third.reciprocal_rank == pytest.approx(1 / 3)
        absent = score(make_result(ranked_sources=["b", "c", "d", "e", "f", "a.txt"]))
        assert (absent.rank, absent.hit_at_5, absent.reciprocal_rank) == (6, False, 1 / 6)
        missing = score(make_result(ranked_sources=["b"]))
        assert (missing.rank, missing.hit_at_5, missing.reciprocal_rank) == (None, False, 0.0)

    def test_retrieval_is_not_scored_without_expected_sources(self) -> None:
        unanswerable = score(make_result(answerable=False, expected_sources=[], abstained=True))
        assert unanswerable.hit_at_1 is None and unanswerable.reciprocal_rank is None


class TestKeywords:
    @pytest.mark.parametrize(
        ("text", "alternative"),
        [
            ("Microsoft CEO Satya NADELLA", "Nadella"),
            ("« supprimé des serveurs »", "supprime"),
            ("sera « SUPPRIMÉ »", "supprimé"),
            ("milliers d’emplois", "milliers d'emplois"),
            ("Wells\nFargo", "Wells  Fargo"),
            ("الولايات المتحدة وكندا وأستراليا", "كندا"),
            ("وكندا واستراليا", "أستراليا"),
            ("كَنَدا", "كندا"),
            ("حوالي ٨٠ مليون مستخدم", "80 مليون"),
            ("مشاهدة إعلانية ضخمة تصل لـ47 مليار", "47"),
            ('اسم "M2" مؤقتًا', "m2"),
            ("late 2016)", "2016"),
        ],
    )
    def test_found(self, text: str, alternative: str) -> None:
        assert contains_keyword(text, alternative)

    @pytest.mark.parametrize(
        ("text", "alternative"),
        [
            ("nearly 180 million users", "80 million"),
            ("about 1800 users", "180"),
            ("4.75 billion", "4.7"),
            ("Canada", "New Zealand"),
            ("anything", "   "),
        ],
    )
    def test_not_found(self, text: str, alternative: str) -> None:
        assert not contains_keyword(text, alternative)

    def test_markers_are_not_text(self) -> None:
        assert missing_keyword_groups("In 2016. [1]", [["2016"], ["1"]]) == [["1"]]

    def test_recall_is_the_share_of_groups_found(self) -> None:
        groups = [["Canada", "كندا"], ["Australia"], ["New Zealand", "نيوزيلندا"]]
        scores = score(make_result(answer="كندا ونيوزيلندا [1]", expected_keywords=groups))
        assert scores.keyword_recall == pytest.approx(2 / 3)
        assert scores.missing_keywords == [["Australia"]]

    def test_an_abstention_recalls_nothing(self) -> None:
        scores = score(
            make_result(
                answer="Canada", abstained=True, citations=[], expected_keywords=[["Canada"]]
            )
        )
        assert scores.keyword_recall == 0.0 and scores.missing_keywords == [["Canada"]]

    def test_no_keywords_no_recall(self) -> None:
        assert score(make_result(expected_keywords=[])).keyword_recall is None


class TestCitations:
    def test_invalid_markers(self) -> None:
        assert invalid_markers("a [1] b [3] c [3] d [2]", [1, 2]) == [3]
        assert invalid_markers("no markers", []) == []

    def test_validity(self) -> None:
        assert score(make_result(answer="x [1] y [1]")).citation_valid is True
        bad = score(make_result(answer="x [1] y [2]"))
        assert bad.citation_valid is False and bad.invalid_markers == [2]
        assert score(make_result(answer="uncited", citations=[])).citation_valid is False
        abstained = score(make_result(answer="I can't say.", abstained=True, citations=[]))
        assert abstained.citation_valid is None and abstained.citation_precision is None

    def test_precision(self) -> None:
        assert citation_precision(["a", "b", "a"], ["a", "z"]) == 0.5
        assert citation_precision(["a"], ["a"]) == 1.0
        assert citation_precision([], ["a"]) is None
        two_sources = make_result(
            answer="x [1] y [2]",
            citations=[CitedSource(n=1, source="a.txt"), CitedSource(n=2, source="b.txt")],
        )
        assert score(two_sources).citation_precision == 0.5


class TestAbstention:
    def test_unanswerable(self) -> None:
        right = score(make_result(answerable=False, expected_sources=[], abstained=True))
        wrong = score(make_result(answerable=False, expected_sources=[]))
        assert (right.abstention_correct, right.false_abstention) == (True, None)
        assert (wrong.abstention_correct, wrong.citation_precision) == (False, None)

    def test_answerable(self) -> None:
        assert score(make_result(abstained=True, citations=[])).false_abstention is True
        assert score(make_result()).false_abstention is False
        assert score(make_result()).abstention_correct is None


def test_crossing() -> None:
    languages = {"ar.txt": "ar", "en.txt": "en", "fr.txt": "fr"}
    assert crossing_of("en", ["ar.txt"], languages) == "cross"
    assert crossing_of("en", ["ar.txt", "fr.txt"], languages) == "cross"
    assert crossing_of("en", ["ar.txt", "en.txt"], languages) == "same"
    assert crossing_of("en", [], languages) == "none"
    assert crossing_of("en", ["unknown.txt"], languages) == "none"
    assert crossing_of("en", ["unknown.txt", "ar.txt"], languages) == "cross"


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([float(v) for v in range(1, 11)], 95) == 10.0
    assert percentile([float(v) for v in range(1, 21)], 95) == 19.0
    assert percentile([5.0], 95) == 5.0


def test_aggregate() -> None:
    figures = aggregate(five_results())
    expected = {
        "hit@1": 1 / 3,  # r1 no, r2 yes, r5 no
        "hit@3": 2 / 3,
        "hit@5": 1.0,
        "mrr": (1 / 2 + 1 + 1 / 5) / 3,
        "keyword_recall": (0.5 + 0.0) / 2,  # r1 half, r2 abstained
        "citation_validity": 2 / 3,  # r1 and r4 valid, r5 not; r2 r3 abstained
        "citation_precision": (0.0 + 1.0) / 2,  # r1 cites b, r5 cites a
        "abstention_accuracy": 1 / 2,  # r3 right, r4 wrong
        "false_abstention": 1 / 3,  # r2 of r1 r2 r5
        "latency_p50_ms": 30.0,
        "latency_p95_ms": 50.0,
        # Sentences of r1 ("Canada and New Zealand"), r4 ("Someone.") and r5 ("y", "z"):
        # three without a final stop; "y" and "z" open in lowercase.
        "headline_sentences": 3 / 4,
        "fragment_sentences": 2 / 4,
        "unbalanced_quotes": 0.0,
        "unannounced_mix": 0.0,  # r1 r4 r5
        "value_first": None,  # no question expects a number or a date
    }
    assert figures.values == pytest.approx(expected)
    assert (figures.questions, figures.answerable) == (5, 3)
    assert figures.counted["hit@1"] == 3 and figures.counted["citation_validity"] == 3
    assert figures.counted["abstention_accuracy"] == 2


def test_aggregate_of_nothing() -> None:
    figures = aggregate([])
    assert figures.questions == 0 and all(v is None for v in figures.values.values())


def test_breakdown_groups() -> None:
    figures = breakdown(five_results())
    assert list(figures) == ["all", "en", "fr", "same-language", "cross-lingual"]
    assert figures["fr"].questions == 2 and figures["en"].questions == 3
    assert figures["same-language"].questions == 2  # r1, r5: unanswerable ones are in neither
    assert figures["cross-lingual"].values["hit@1"] == 1.0
    assert figures["fr"].values["abstention_accuracy"] == 0.0


class TestMissReasons:
    def test_pass(self) -> None:
        assert miss_reasons(make_result(expected_keywords=[["someone"]])) == []
        assert (
            miss_reasons(make_result(answerable=False, expected_sources=[], abstained=True)) == []
        )

    def test_reasons(self) -> None:
        r1, r2, _, r4, r5 = five_results()
        assert miss_reasons(r1) == ["missing keywords: Australia", "cites no expected source"]
        assert miss_reasons(r2) == ["abstained"]
        assert miss_reasons(r4) == ["answered a question the articles don't cover"]
        assert miss_reasons(r5) == ["markers without a source: [2]"]
        lost = make_result(ranked_sources=["b.txt"], abstained=True, citations=[])
        assert miss_reasons(lost) == [
            "no expected source among the retrieved passages",
            "abstained",
        ]
        assert miss_reasons(make_result(answer="uncited", citations=[])) == [
            "no [n] marker in the answer"
        ]


class TestFloors:
    def test_parse(self) -> None:
        assert parse_floors("hit@5=0.6, Keyword_Recall=0.45,") == {
            "hit@5": 0.6,
            "keyword_recall": 0.45,
        }

    @pytest.mark.parametrize(
        ("spec", "says"),
        [
            ("hit@9=0.5", "is not METRIC=VALUE"),
            ("hit@5", "is not METRIC=VALUE"),
            ("hit@5=lots", "from 0 to 1"),
            ("hit@5=1.5", "from 0 to 1"),
            ("hit@5=nan", "from 0 to 1"),
            ("fragment_sentences=2", "the ceiling of fragment_sentences must be a number from 0"),
            ("latency_p95_ms=-5", "must be a number of milliseconds"),
            (" , ", "needs METRIC=VALUE"),
        ],
    )
    def test_bad_spec(self, spec: str, says: str) -> None:
        with pytest.raises(BadInputError, match=says) as caught:
            parse_floors(spec)
        assert "\n" not in str(caught.value)

    def test_a_figure_better_when_lower_takes_a_ceiling(self) -> None:
        assert parse_floors("headline_sentences=0,false_abstention=0.2,latency_p95_ms=50") == {
            "headline_sentences": 0.0,
            "false_abstention": 0.2,
            "latency_p95_ms": 50.0,
        }
        figures = GroupFigures(
            questions=2,
            answerable=2,
            values={"fragment_sentences": 0.1, "unannounced_mix": 0.0, "value_first": 0.8},
            counted={},
        )
        assert below_floors(figures, {"unannounced_mix": 0.0, "value_first": 0.8}) == []
        assert below_floors(figures, {"fragment_sentences": 0.0, "value_first": 0.9}) == [
            "fragment_sentences is 0.100, above its ceiling 0",
            "value_first is 0.800, below its floor 0.9",
        ]

    def test_below(self) -> None:
        figures = GroupFigures(
            questions=2, answerable=1, values={"hit@5": 0.5, "mrr": 0.9, "hit@1": None}, counted={}
        )
        assert below_floors(figures, {"hit@5": 0.5, "mrr": 0.8}) == []
        assert below_floors(figures, {"hit@5": 0.6}) == ["hit@5 is 0.500, below its floor 0.6"]
        assert "could not be computed" in below_floors(figures, {"hit@1": 0.1})[0]


class TestAnswerHygiene:
    """How the answers read: headlines, fragments, quotes, languages, the asked-for value."""

    def test_each_problem_is_named_with_its_sentence(self) -> None:
        result = make_result(
            answer=(
                "Microsoft will buy TikTok [1] To the extent that such data is stored "
                "abroad, it is removed », clarifies. [1] Microsoft ensures privacy, thus "
                "saving the threat from Trump: [1] La société veut racheter TikTok. [1]"
            ),
            citations=[CitedSource(n=1, source="a.txt", title="Microsoft confirms interest")],
        )
        scores = score(result)
        assert scores.sentences == 4
        assert scores.headline_sentences == ["Microsoft will buy TikTok"]
        assert scores.fragment_sentences == [
            "Microsoft ensures privacy, thus saving the threat from Trump:"
        ]
        assert scores.unbalanced_quote_sentences == [
            "To the extent that such data is stored abroad, it is removed », clarifies."
        ]
        assert scores.unannounced_sentences == ["La société veut racheter TikTok."]
        assert scores.value_first is None  # the question asks for no number or date
        assert hygiene_problems(result) == [
            "headline: Microsoft will buy TikTok",
            "fragment: Microsoft ensures privacy, thus saving the threat from Trump:",
            "unbalanced quotes: To the extent that such data is stored abroad, it is "
            "removed », clarifies.",
            "another language with no note: La société veut racheter TikTok.",
        ]

    def test_an_article_title_is_a_headline_even_with_a_stop(self) -> None:
        result = make_result(
            language="ar",
            answer="تيك توك يحرج أمازون في معركة الحظر. [1] تعرضت أمازون لموقف محرج. [1]",
            citations=[
                CitedSource(n=1, source="a.txt", title="تيك توك يحرج أمازون في معركة الحظر")
            ],
        )
        assert score(result).headline_sentences == ["تيك توك يحرج أمازون في معركة الحظر."]

    @pytest.mark.parametrize(
        ("answer", "first"),
        [
            ("Les sources divergent : environ 80 millions [1], près de 100 millions [2].", True),
            ("TikTok compte près de 100 millions d’utilisateurs. [1] Il plaît. [2]", True),
            ("TikTok plaît aux jeunes. [1] Il compte 100 millions d’utilisateurs. [2]", False),
            ("D’après l’article en arabe « 2025 » : تيك توك تحظى بشعبية. [1]", False),
        ],
    )
    def test_the_number_first_for_questions_that_expect_one(self, answer: str, first: bool) -> None:
        result = make_result(
            language="fr",
            answer=answer,
            expected_keywords=[["100 millions", "100 مليون"]],
            citations=[CitedSource(n=1, source="a.txt"), CitedSource(n=2, source="a.txt")],
        )
        assert score(result).value_first is first

    def test_an_abstention_has_no_sentences_to_check(self) -> None:
        scores = score(make_result(answer="-", abstained=True, citations=[]))
        assert scores.sentences is None and scores.value_first is None

    def test_the_figures_count_sentences_and_answers(self) -> None:
        results = [
            make_result(answer="Microsoft will buy TikTok [1] Microsoft wants TikTok. [1]"),
            make_result(answer="Microsoft wants TikTok. [1] Il veut TikTok aussi. [1]"),
            make_result(answer="-", abstained=True, citations=[]),
            make_result(
                answer="The sources differ: 80 million [1], 100 million [2].",
                expected_keywords=[["80 million"], ["100 million"]],
            ),
        ]
        figures = aggregate([scored(r) for r in results])
        assert figures.values["headline_sentences"] == pytest.approx(1 / 5)
        assert figures.counted["headline_sentences"] == 5
        assert figures.values["fragment_sentences"] == 0.0
        assert figures.values["unannounced_mix"] == pytest.approx(1 / 3)
        assert figures.counted["unannounced_mix"] == 3
        assert figures.values["value_first"] == 1.0 and figures.counted["value_first"] == 1

    def test_an_earlier_run_without_titles_is_rescored(self, tmp_path: Path) -> None:
        run = build_run(
            [make_result(answer="Microsoft will buy TikTok [1]")],
            [],
            started="x",
            questions_file="q",
        )
        saved = run.model_dump_json()
        saved = saved.replace(',"title":""', "")
        path = tmp_path / "old.json"
        path.write_text(saved, encoding="utf-8")
        again = load_run(path)
        assert again.results[0].scores is not None
        assert again.results[0].scores.headline_sentences == ["Microsoft will buy TikTok"]
        assert again.figures["all"].values["headline_sentences"] == 1.0
