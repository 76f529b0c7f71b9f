"""Cross-lingual retrieval: is the passage that answers found when the question and the
article are in different languages, with and without the question's translation?

    uv sync --extra openai && uv run python benchmarks/crosslingual.py [--limit N]

1. XQuAD (../shared/benchmarks/xquad): its 1,190 questions asked in English of the 240
   Arabic paragraphs (one article each), and in Arabic of the English paragraphs. A hit is
   a passage of the paragraph that holds the answer among the top k.
   - "as asked": no model, the question as it is (what offline newsbot does);
   - "translated": newsbot's real pipeline (Engine.reply, NEWSBOT_LLM_PROVIDER=openai)
     against a stand-in server that "translates" with XQuAD's own human translation, so the
     question is also searched in the pool's language and the rankings fused. This is an
     upper bound for translation fusion with a perfect translator; it measures no LLM;
   - "plain RRF": the same two rankings fused without the evidence weights (ablation);
   - "translation alone": the human translation asked on its own (monolingual reference).
   "answers" is the share of questions newsbot does not abstain on.
2. The project's seeds: the questions of seeds/questions.jsonl whose expected articles are
   all in other languages, without a model (no reference translations of them exist here).

The embedding is whatever NEWSBOT_EMBEDDING_* say (default: the offline hashing one).
Prints a table and writes it to benchmarks/crosslingual.md (crosslingual-<provider>.md
for another embedding).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _machine import PROJECT_ROOT, header

from rag.engine import Engine
from rag.models import RetrievedPassage
from rag.retrieval.fusion import reciprocal_rank_fusion
from rag.settings import load_settings
from tests.standins._server import Reply, Request, Script
from tests.standins.openai_api import OpenAIStandIn

XQUAD = PROJECT_ROOT.parent / "shared" / "benchmarks" / "xquad"
K = 5

Question = tuple[str, str, str]  # id, text, the file of the paragraph that answers it


def write_paragraphs(language: str, folder: Path) -> dict[str, Question]:
    """One article file per XQuAD paragraph; the questions by id."""
    data = json.loads((XQUAD / f"xquad.{language}.json").read_text(encoding="utf-8"))["data"]
    folder.mkdir(parents=True)
    questions: dict[str, Question] = {}
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article["paragraphs"]):
            name = f"{a:02}_{p:02}.txt"
            # No title line: XQuAD's titles are English even in the Arabic file.
            (folder / name).write_text(paragraph["context"].strip() + "\n", encoding="utf-8")
            for qa in paragraph["qas"]:
                questions[qa["id"]] = (qa["id"], qa["question"], name)
    return questions


def hits(ranked: Sequence[str], gold: str) -> tuple[int, int]:
    return int(ranked[:1] == [gold]), int(gold in ranked[:K])


class Tally:
    def __init__(self) -> None:
        self.rows: dict[str, list[int]] = {}

    def add(self, name: str, ranked: Sequence[str], gold: str, answered: bool | None) -> None:
        at1, at5 = hits(ranked, gold)
        row = self.rows.setdefault(name, [0, 0, 0, 0])
        row[0] += 1
        row[1] += at1
        row[2] += at5
        row[3] += int(bool(answered))

    def table(self, with_answers: set[str]) -> list[str]:
        lines = []
        for name, (n, at1, at5, answered) in self.rows.items():
            share = f"{answered / n:.1%}" if name in with_answers else "–"
            lines.append(f"| {name} | {n} | {at1 / n:.1%} | {at5 / n:.1%} | {share} |")
        return lines


def plain_rrf(engine: Engine, queries: Sequence[tuple[str, str]]) -> list[str]:
    rankings: list[list[RetrievedPassage]] = []
    for text, language in queries:
        rankings.append(engine.retriever.retrieve(text, language, engine.settings.candidates)[0])
    ids = {p.passage_id: p.source for ranking in rankings for p in ranking}
    rows = list(ids)
    fused = reciprocal_rank_fusion([([rows.index(p.passage_id) for p in r], 1.0) for r in rankings])
    best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:K]
    return [ids[rows[row]] for row, _ in best]


def translator(table: dict[str, tuple[str, str]]) -> Callable[[Request], Reply]:
    def translate(request: Request) -> Reply:
        question = request.user().split("Question: ", 1)[1]
        language, translation = table[" ".join(question.split())]
        return Reply(text=f"{language}: {translation}")

    return translate


def xquad_direction(
    asked: str, pool: str, root: Path, limit: int | None, tally: Tally, server: OpenAIStandIn
) -> None:
    questions = write_paragraphs(asked, root / f"questions_{asked}")
    pool_questions = write_paragraphs(pool, root / f"corpus_{pool}")
    # The LLM translation mechanism, measured on the lexical setup it was built for.
    base = load_settings(
        data_dir=root / f"data_{pool}",
        corpus_dir=root / f"corpus_{pool}",
        embedding_provider="hashing",
    )
    offline = Engine(base)
    offline.ingest()
    ids = [qid for qid in questions if qid in pool_questions][:limit]
    table = {" ".join(questions[qid][1].split()): (pool, pool_questions[qid][1]) for qid in ids}
    server.responder = Script(translate=translator(table), answer=Reply(text="See [1]."))
    translated = Engine(
        base.model_copy(update={"llm_provider": "openai", "llm_base_url": server.base_url})
    )
    label = f"{asked}→{pool}"
    for qid in ids:
        _, text, gold = questions[qid]
        translation = pool_questions[qid][1]
        reply = offline.reply(text)
        answer, passages = reply.answer, reply.passages
        tally.add(f"{label} as asked", [p.source for p in passages], gold, not answer.abstained)
        reply = translated.reply(text)
        answer, passages = reply.answer, reply.passages
        tally.add(f"{label} translated", [p.source for p in passages], gold, not answer.abstained)
        assert answer.notices == [], answer.notices
        tally.add(
            f"{label} plain RRF",
            plain_rrf(offline, [(text, asked), (translation, pool)]),
            gold,
            None,
        )
        reply = offline.reply(translation)
        answer, passages = reply.answer, reply.passages
        tally.add(
            f"{label} translation alone", [p.source for p in passages], gold, not answer.abstained
        )


def seeds_part(root: Path) -> tuple[int, int, int]:
    engine = Engine(
        load_settings(
            data_dir=root / "data_seeds",
            corpus_dir=PROJECT_ROOT / "seeds",
            embedding_provider="hashing",
        )
    )
    engine.ingest()
    language_of = {a.source: a.language for a in engine.articles()}
    total = found = answered = 0
    for line in (PROJECT_ROOT / "seeds" / "questions.jsonl").read_text().splitlines():
        item = json.loads(line)
        expected = set(item["expected_sources"])
        if not expected or item["language"] in {language_of[s] for s in expected}:
            continue
        reply = engine.reply(item["question"])
        answer, passages = reply.answer, reply.passages
        total += 1
        found += bool(expected & {p.source for p in passages[:K]})
        answered += not answer.abstained
    return total, found, answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="questions per direction (default: all)")
    options = parser.parse_args()
    started = time.perf_counter()
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp, OpenAIStandIn() as server:
        root = Path(tmp)
        if XQUAD.is_dir():
            xquad_direction("en", "ar", root / "en-ar", options.limit, tally, server)
            xquad_direction("ar", "en", root / "ar-en", options.limit, tally, server)
        else:
            print(f"XQuAD is missing ({XQUAD} not found): part 1 skipped", file=sys.stderr)
        seeds = seeds_part(root)
    settings = load_settings()
    embedding = settings.embedding_provider
    if settings.embedding_model:
        embedding += ": " + "/".join(Path(settings.embedding_model).parts[-2:])
    lines = [
        f"Embedding: `{embedding}`; k = {K}; {time.perf_counter() - started:.0f} s in all.",
        "",
        "| condition | questions | hit@1 | hit@5 | answers |",
        "| --- | --- | --- | --- | --- |",
        *tally.table({n for n in tally.rows if "RRF" not in n}),
        "",
        "Seeds, questions whose expected articles are all in other languages, no model:",
        f"{seeds[0]} questions, expected article in the top {K}: {seeds[1]} "
        f"({seeds[1] / max(seeds[0], 1):.0%}); answered: {seeds[2]}.",
    ]
    if not XQUAD.is_dir():
        lines.insert(0, f"XQuAD missing ({XQUAD}): only the seeds part ran.\n")
    report = header("Cross-lingual retrieval") + "\n" + "\n".join(lines) + "\n"
    print(report)
    suffix = "" if settings.embedding_provider == "hashing" else f"-{settings.embedding_provider}"
    Path(__file__).with_name(f"crosslingual{suffix}.md").write_text(
        "# Cross-lingual retrieval\n\nCommand: `uv run python benchmarks/crosslingual.py`\n\n"
        + report,
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
