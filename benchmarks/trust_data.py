"""The trust benchmark's archive and questions, and how an answer is scored against them.

The archive is a newsroom's mixed-language one, built from public QA sets: the XQuAD
articles alternate between Arabic (even positions) and English (odd), each written as one
article file of its paragraphs, and every PIAF article is a French article file. From each
article one paragraph is left out: its questions are on-topic (the rest of the article is
indexed) but unanswerable; those whose answer text the rest of the article still holds
are dropped, as they may well be answered. XQuAD is parallel, so each of its questions is
asked in English and in Arabic: in the article's language (same-language) and in the other
(cross-lingual).

The tuning half (XQuAD's first 24 articles, PIAF's first half of articles) is what
answerability is fitted and tuned on; the test half is never used for either.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmark_data import BENCHMARKS_DIR, benchmarks_dir

Half = Literal["tuning", "test"]
# same: asked in the article's language; cross: XQuAD asked in the other language;
# left-out: the paragraph it was written on is not in the archive.
Kind = Literal["same", "cross", "left-out"]

XQUAD = {"en": "xquad/xquad.en.json", "ar": "xquad/xquad.ar.json"}
PIAF = "piaf/piaf-v1.0.json"
XQUAD_TUNING_ARTICLES = 24
TITLE_WORDS = 10


@dataclass(frozen=True)
class Paragraph:
    article: str  # the article file's name
    start: int  # span in the article file
    end: int


@dataclass(frozen=True)
class TrustQuestion:
    id: str
    text: str
    language: str
    dataset: Literal["XQuAD", "PIAF"]
    half: Half
    kind: Kind
    answers: tuple[str, ...]  # the gold answer, in every language the set gives it
    gold: Paragraph | None  # None: left out of the archive
    article: str  # the article file it is about
    article_language: str
    # Where the gold answer is in the article file (the article's language's version).
    answer_spans: tuple[tuple[int, int], ...] = ()

    @property
    def answerable(self) -> bool:
        return self.kind != "left-out"

    @property
    def group(self) -> str:
        """The table row it counts in."""
        if self.dataset == "PIAF":
            return "PIAF left out" if self.kind == "left-out" else "PIAF (fr)"
        crossing = "same-language" if self.language == self.article_language else "cross-lingual"
        if self.kind == "left-out":
            return f"XQuAD left out, {crossing}"
        return f"XQuAD {crossing}"


@dataclass
class TrustArchive:
    articles: dict[str, str] = field(default_factory=dict)  # file name -> text
    questions: list[TrustQuestion] = field(default_factory=list)

    def of(self, half: Half) -> list[TrustQuestion]:
        return [q for q in self.questions if q.half == half]


def _left_out(title: str, count: int) -> int:
    """Which paragraph of an article is left out: fixed by its title."""
    return int(hashlib.sha256(title.encode()).hexdigest(), 16) % count


def _leading_space(text: str) -> int:
    return len(text) - len(text.lstrip())


def _headline(text: str) -> str:
    """A headline for an article whose set gives only a page name in another language: its
    first words."""
    words = text.split()
    return " ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else "")


def _write_article(
    name: str, title: str, contexts: Sequence[str], archive: TrustArchive
) -> list[Paragraph]:
    text = title + "\n\n"
    spans = []
    for context in contexts:
        start = len(text)
        text += context.strip()
        spans.append(Paragraph(name, start, len(text)))
        text += "\n\n"
    archive.articles[name] = text
    return spans


def build_archive(root: Path = BENCHMARKS_DIR) -> TrustArchive:
    root = benchmarks_dir(root)
    archive = TrustArchive()
    xquad = {
        code: json.loads((root / path).read_text(encoding="utf-8"))["data"]
        for code, path in XQUAD.items()
    }
    for position, (english, arabic) in enumerate(zip(xquad["en"], xquad["ar"], strict=True)):
        language = "ar" if position % 2 == 0 else "en"
        half: Half = "tuning" if position < XQUAD_TUNING_ARTICLES else "test"
        entries = {"en": english, "ar": arabic}
        own = entries[language]["paragraphs"]
        left_out = _left_out(english["title"], len(own))
        kept = [p["context"] for i, p in enumerate(own) if i != left_out]
        title = english["title"].replace("_", " ") if language == "en" else _headline(kept[0])
        name = f"xquad-{position:02d}-{language}.txt"
        spans = _write_article(name, title, kept, archive)
        gold_of = {i: spans[i - (i > left_out)] for i in range(len(own)) if i != left_out}
        for index in range(len(own)):
            spans_by_id: dict[str, tuple[tuple[int, int], ...]] = {}
            if index != left_out:
                paragraph = gold_of[index]
                offset = paragraph.start - _leading_space(own[index]["context"])
                for qa in own[index]["qas"]:
                    spans_by_id[qa["id"]] = tuple(
                        (offset + a["answer_start"], offset + a["answer_start"] + len(a["text"]))
                        for a in qa["answers"]
                    )
            answers_by_id: dict[str, list[str]] = {}
            for code in ("en", "ar"):
                for qa in entries[code]["paragraphs"][index]["qas"]:
                    answers_by_id.setdefault(qa["id"], []).extend(a["text"] for a in qa["answers"])
            for code in ("en", "ar"):
                for qa in entries[code]["paragraphs"][index]["qas"]:
                    kind: Kind = (
                        "left-out" if index == left_out else "same" if code == language else "cross"
                    )
                    archive.questions.append(
                        TrustQuestion(
                            id=f"{qa['id']}-{code}",
                            text=qa["question"].strip(),
                            language=code,
                            dataset="XQuAD",
                            half=half,
                            kind=kind,
                            answers=tuple(dict.fromkeys(answers_by_id[qa["id"]])),
                            gold=gold_of.get(index),
                            article=name,
                            article_language=language,
                            answer_spans=spans_by_id.get(qa["id"], ()),
                        )
                    )
    piaf = json.loads((root / PIAF).read_text(encoding="utf-8"))["data"]
    for position, entry in enumerate(piaf):
        half = "tuning" if position < len(piaf) // 2 else "test"
        paragraphs = entry["paragraphs"]
        # A one-paragraph article left out would leave nothing on its topic.
        left_out = _left_out(entry["title"], len(paragraphs)) if len(paragraphs) > 1 else -1
        kept = [p["context"] for i, p in enumerate(paragraphs) if i != left_out]
        title = re.sub(r"<[^>]+>", "", entry["title"])
        name = f"piaf-{position:03d}.txt"
        spans = _write_article(name, title, kept, archive)
        for index, paragraph in enumerate(paragraphs):
            kept_span = None if index == left_out else spans[index - (index > left_out)]
            offset = kept_span.start - _leading_space(paragraph["context"]) if kept_span else 0
            for qa in paragraph["qas"]:
                archive.questions.append(
                    TrustQuestion(
                        id=str(qa["id"]),
                        text=qa["question"].strip(),
                        language="fr",
                        dataset="PIAF",
                        half=half,
                        kind="left-out" if index == left_out else "same",
                        answers=tuple(dict.fromkeys(a["text"] for a in qa["answers"])),
                        gold=None if index == left_out else spans[index - (index > left_out)],
                        article=name,
                        article_language="fr",
                        answer_spans=tuple(
                            (
                                offset + a["answer_start"],
                                offset + a["answer_start"] + len(a["text"]),
                            )
                            for a in qa["answers"]
                        )
                        if kept_span
                        else (),
                    )
                )
    archive.questions = [
        q
        for q in archive.questions
        if q.answerable or not holds_answer(archive.articles[q.article], q.answers)
    ]
    return archive


# -- scoring an answer ----------------------------------------------------------------

_MARKER_RE = re.compile(r"\[(\d+)\]")
# The note before sentences quoted from an article in another language (prompts/from_article.*).
_NOTE_RE = re.compile(
    r"^\s*(From the [^“]*“[^”]*”|D’après l’article[^«]*«[^»]*»|من المقال[^«]*«[^»]*»)\s*:\s*"
)
_PUNCTUATION = dict.fromkeys(
    i for i in range(0x110000) if unicodedata.category(chr(i)).startswith(("P", "S"))
)


def normalised(text: str) -> str:
    """Text compared for an answer: folded as newsbot analyses it, without punctuation."""
    from rag.text.analysis import normalize

    return " ".join(normalize(text).translate(_PUNCTUATION).split())


def first_sentence(answer: str) -> str:
    """The answer's first cited sentence: up to its first marker, without a note naming
    the article it quotes ("From the Arabic article “…”:")."""
    match = _MARKER_RE.search(answer)
    head = answer[: match.start()] if match else answer
    return _NOTE_RE.sub("", head, count=1)


def holds_answer(text: str, answers: Sequence[str]) -> bool:
    folded = f" {normalised(text)} "
    return any(
        f" {normalised(answer)} " in folded or (normalised(answer) and normalised(answer) in folded)
        for answer in answers
        if normalised(answer)
    )


def cites_gold(citation: dict[str, Any], gold: Paragraph) -> bool:
    """Whether a citation quotes the gold paragraph: a highlighted sentence in it, or, for a
    citation without highlights, most of its passage."""
    if citation.get("source") != gold.article:
        return False
    start = int(citation.get("start", 0))
    spans = [(start + s, start + e) for s, e in citation.get("highlights") or []]
    if spans:
        return any(s < gold.end and gold.start < e for s, e in spans)
    end = int(citation.get("end", start))
    overlap = min(end, gold.end) - max(start, gold.start)
    return overlap > 0 and overlap >= (end - start) / 2


@dataclass(frozen=True)
class Outcome:
    """One answer judged against its question."""

    question: TrustQuestion
    abstained: bool
    gold_in_first_3: bool
    gold_first: bool
    found: bool
    found_first: bool
    score: float | None  # the answerability score, when the system gives one

    @property
    def trusted(self) -> bool:
        if self.question.answerable:
            return not self.abstained and self.found
        return self.abstained


def judge(question: TrustQuestion, reply: dict[str, Any]) -> Outcome:
    abstained = bool(reply.get("abstained")) or "error" in reply
    citations = list(reply.get("citations") or [])
    gold = question.gold
    in_first_3 = gold is not None and any(cites_gold(c, gold) for c in citations[:3])
    first = gold is not None and bool(citations) and cites_gold(citations[0], gold)
    answer = str(reply.get("answer", ""))
    found = not abstained and holds_answer(answer, question.answers)
    found_first = not abstained and holds_answer(first_sentence(answer), question.answers)
    score = reply.get("answerability")
    return Outcome(
        question,
        abstained,
        in_first_3 and not abstained,
        first and not abstained,
        found,
        found_first,
        float(score) if isinstance(score, int | float) else None,
    )
