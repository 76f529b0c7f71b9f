"""Reports of an evaluation run: terminal table, Markdown, chart."""

from __future__ import annotations

import re
from pathlib import Path

from rag.evaluation.questions import LineError
from rag.evaluation.report import (
    comparison_report,
    format_figure,
    markdown_report,
    markdown_text,
    plot_report,
    terminal_report,
    text_table,
)
from rag.evaluation.runs import EvalRun, build_run, compare_runs
from tests.rag.evaluation.results import five_results, make_result


def sample_run() -> EvalRun:
    hostile = make_result(
        id="x1",
        question="<script>alert(1)</script> | *bold* [link](http://evil) `code`",
        answer="<img src=x onerror=alert(1)> [1] | cell",
        expected_keywords=[["absent"]],
    )
    return build_run(
        [*five_results(), hostile],
        [LineError(line=9, error="not valid JSON (Expecting value at column 1)")],
        questions_file="questions.jsonl",
        started="2025-01-01 00:00 UTC",
        commit="abc123",
        machine="Linux x86_64, 2 CPUs",
        settings={"mode": "extractive", "top_k": 5},
    )


def test_format_figure() -> None:
    assert format_figure("hit@1", 1 / 3) == "0.33"
    assert format_figure("latency_p50_ms", 12.345) == "12.3"
    assert format_figure("mrr", None) == "–"


def test_text_table_aligns_columns() -> None:
    table = text_table([["figure", "all"], ["hit@1", "0.50"], ["keyword recall", "1.00"]])
    lines = table.splitlines()
    assert lines[0] == "figure           all"
    assert lines[2] == "keyword recall  1.00"
    assert len({len(line) for line in lines}) == 1


def test_terminal_report() -> None:
    report = terminal_report(sample_run())
    assert "6 questions from questions.jsonl" in report and "commit abc123" in report
    header = next(line for line in report.splitlines() if line.startswith("figure"))
    assert header.split() == ["figure", "all", "en", "fr", "same-language", "cross-lingual"]
    hit1 = next(line for line in report.splitlines() if line.startswith("hit@1"))
    assert hit1.split()[1] == "0.50"  # r2 and x1 of r1, r2, r5, x1
    assert "Missed 5 of 6 questions:" in report
    assert "  r4 (fr, no sources): answered a question the articles don't cover" in report
    assert "line 9: not valid JSON" in report


def test_terminal_report_prints_no_escape_sequence() -> None:
    sneaky = make_result(id="q\x1b[2J", expected_keywords=[["\x1b]0;title\x07"]])
    report = terminal_report(build_run([sneaky], [], questions_file="q", started="now"))
    assert "\x1b" not in report and "\x07" not in report
    assert "q [2J (en, same-language): missing keywords:  ]0;title " in report


def test_markdown_report_carries_no_escape_sequence() -> None:
    sneaky = make_result(
        id="q\x1b[2J",
        question="Who?\x1b]52;c;ZWNobw==\x07",
        expected_sources=["bad\x1b]0;title\x07.txt"],
        expected_keywords=[["\x1b]0;title\x07"]],
        answer="The council\x1b[5m approved it\x9b31m [1].",
    )
    report = markdown_report(build_run([sneaky], [], questions_file="q", started="now"))
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", report), repr(report)
    assert r"- **answer:** The council \[5m approved it 31m \[1\]." in report


def test_markdown_escapes_what_it_quotes() -> None:
    assert markdown_text("a|b *c* <d> [e](f)\nnext") == r"a\|b \*c\* \<d\> \[e\](f) next"
    report = markdown_report(sample_run())
    for line in report.splitlines():
        quoted = line.removeprefix("> ")  # the question's blockquote
        assert re.search(r"(?<!\\)[<>]", quoted) is None, f"unescaped < or > in {line!r}"
    assert r"\<img src=x onerror=alert(1)\> \[1\] \| cell" in report
    assert r"\<script\>alert(1)\</script\> \| \*bold\* \[link\](http://evil) \`code\`" in report


def test_markdown_sections() -> None:
    report = markdown_report(sample_run())
    assert report.startswith("# newsbot eval: questions.jsonl\n")
    assert "## Summary" in report and "## By language and by same-language" in report
    assert "| hit@1 | 0.50 | 4 answerable questions with expected sources |" in report
    assert "| abstention accuracy | 0.50 | 2 unanswerable questions |" in report
    assert "## Misses (5)" in report and "### r1 (en, same-language)" in report
    miss = report.split("### r1 ")[1].split("###")[0]
    assert "- **why:** missing keywords: Australia; cites no expected source" in miss
    assert "- **expected:** `a.txt`" in miss and "- **cited:** `b.txt`" in miss
    assert "- **retrieved:** `b.txt`, `a.txt`" in miss
    assert "(Canada) and (Australia)" in miss
    assert "- **answer:** abstained" in report.split("### r2 ")[1]
    assert "### r3" not in report  # it passed
    assert "## Lines not run (1)" in report and "- line 9: not valid JSON" in report


def test_comparison_report() -> None:
    old = sample_run()
    new = build_run(five_results(), [], questions_file="q", started="now")
    report = comparison_report(compare_runs(old, new), "old.json")
    assert report.startswith("Change against old.json:")
    hit1 = next(line for line in report.splitlines() if line.startswith("hit@1"))
    assert hit1.split() == ["hit@1", "0.50", "0.33", "-0.17"]
    assert "Newly missed: none" in report and "Newly passing: none" in report


def test_plot_writes_a_png(tmp_path: Path) -> None:
    path = tmp_path / "report.png"
    plot_report(sample_run(), path)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_the_answer_hygiene_in_the_table_and_both_reports() -> None:
    clean = make_result(id="h1", answer="Microsoft wants TikTok. [1]")
    sloppy = make_result(
        id="h2",
        answer="Microsoft will buy TikTok [1] Microsoft ensures privacy, thus saving Trump: [1]",
    )
    run = build_run([clean, sloppy], [], questions_file="q.jsonl", started="now")
    report = terminal_report(run)
    headline = next(line for line in report.splitlines() if line.startswith("headline sentences"))
    assert headline.split()[2] == "0.33"  # 1 of the 3 sentences
    assert next(
        line for line in report.splitlines() if line.startswith("unannounced language mix")
    ).split()[3:5] == ["0.00", "0.00"]
    assert (
        "Answer hygiene: 1 headline, 1 fragment and 0 unbalanced-quote sentences of 3 in 2 "
        "answers; 0 answers mix languages with no note; the number or date first in 0 of 0"
    ) in report
    assert "  h2 (en): headline: Microsoft will buy TikTok" in report
    assert "  h2 (en): fragment: Microsoft ensures privacy, thus saving Trump:" in report
    assert "h1 (en):" not in report

    markdown = markdown_report(run)
    section = markdown.split("## Answer hygiene")[1]
    assert "1 headline, 1 fragment" in section
    assert "- **h2** (en):\n  - headline: Microsoft will buy TikTok" in section
    assert "| headline sentences | 0.33 | 3 sentences of answers |" in markdown
