"""Reports of an evaluation run: the terminal table, the Markdown report, the chart."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from rag.evaluation.runs import Comparison, EvalRun
from rag.evaluation.scoring import (
    CROSSING_GROUPS,
    METRIC_BY_KEY,
    METRICS,
    GroupFigures,
    QuestionResult,
    hygiene_problems,
    miss_reasons,
    score,
)
from rag.safe_text import printable

PLOTTED_METRICS = (
    "hit@1",
    "hit@5",
    "mrr",
    "keyword_recall",
    "citation_precision",
    "abstention_accuracy",
)
ANSWER_EXCERPT_CHARS = 300


def format_figure(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    if METRIC_BY_KEY[key].unit == "ms":
        return f"{value:.1f}"
    return f"{value:.2f}"


def _metric_label(key: str) -> str:
    metric = METRIC_BY_KEY[key]
    return f"{metric.label} ({metric.unit})" if metric.unit else metric.label


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell: the first left-aligned, the others right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def figures_rows(figures: dict[str, GroupFigures]) -> list[list[str]]:
    """One row per figure, one column per group ("all", each language, crossing)."""
    groups = list(figures)
    rows = [["figure", *groups]]
    rows.append(["questions", *(str(figures[g].questions) for g in groups)])
    rows.append(["answerable", *(str(figures[g].answerable) for g in groups)])
    for metric in METRICS:
        rows.append(
            [
                _metric_label(metric.key),
                *(format_figure(metric.key, figures[g].values.get(metric.key)) for g in groups),
            ]
        )
    return rows


def run_heading(run: EvalRun) -> str:
    settings = run.settings
    parts = [
        f"{len(run.results)} questions from {run.questions_file}",
        f"{settings.get('mode', '?')} mode, top-k {settings.get('top_k', '?')}",
        run.started,
    ]
    if run.commit:
        parts.append(f"commit {run.commit}")
    if run.machine:
        parts.append(run.machine)
    return " · ".join(parts)


def _flagged(
    run: EvalRun, reasons_of: Callable[[QuestionResult], list[str]]
) -> list[tuple[QuestionResult, list[str]]]:
    """The results `reasons_of` finds something wrong with, each with what it found."""
    return [(result, reasons) for result in run.results if (reasons := reasons_of(result))]


def misses(run: EvalRun) -> list[tuple[QuestionResult, list[str]]]:
    return _flagged(run, miss_reasons)


def _crossing_label(result: QuestionResult) -> str:
    return {"same": "same-language", "cross": "cross-lingual"}.get(result.crossing, "no sources")


def hygiene_summary(run: EvalRun) -> str:
    """The answer-hygiene counts in one sentence."""
    sentences = answers = mixed = asked = first = 0
    flagged = {"headline": 0, "fragment": 0, "unbalanced": 0}
    for result in run.results:
        scores = result.scores or score(result)
        if scores.sentences is None:
            continue
        answers += 1
        sentences += scores.sentences
        flagged["headline"] += len(scores.headline_sentences)
        flagged["fragment"] += len(scores.fragment_sentences)
        flagged["unbalanced"] += len(scores.unbalanced_quote_sentences)
        mixed += bool(scores.unannounced_sentences)
        if scores.value_first is not None:
            asked += 1
            first += scores.value_first
    return (
        f"{flagged['headline']} headline, {flagged['fragment']} fragment and "
        f"{flagged['unbalanced']} unbalanced-quote sentences of {sentences} in {answers} "
        f"answers; {mixed} answers mix languages with no note; the number or date first in "
        f"{first} of {asked} answers to questions that ask for one."
    )


def hygiene_issues(run: EvalRun) -> list[tuple[QuestionResult, list[str]]]:
    return _flagged(run, hygiene_problems)


def terminal_report(run: EvalRun) -> str:
    """The figures table, one line per missed question, then the answer hygiene."""
    lines = [f"newsbot eval · {run_heading(run)}", "", text_table(figures_rows(run.figures))]
    missed = misses(run)
    lines += ["", f"Missed {len(missed)} of {len(run.results)} questions:"]
    for result, reasons in missed:
        lines.append(
            f"  {result.id} ({result.language}, {_crossing_label(result)}): " + "; ".join(reasons)
        )
    lines += ["", f"Answer hygiene: {hygiene_summary(run)}"]
    for result, problems in hygiene_issues(run):
        lines += [f"  {result.id} ({result.language}): {problem}" for problem in problems]
    if run.errors:
        lines += ["", f"{len(run.errors)} line(s) not run:"]
        lines += [f"  line {e.line}: {e.error}" for e in run.errors]
    return printable("\n".join(lines))


def comparison_report(comparison: Comparison, old_label: str) -> str:
    rows = [["figure", "old", "new", "change"]]
    for metric in METRICS:
        old = comparison.old.values.get(metric.key)
        new = comparison.new.values.get(metric.key)
        change = "–"
        if old is not None and new is not None:
            digits = 1 if metric.unit == "ms" else 2
            change = f"{new - old:+.{digits}f}"
        rows.append(
            [
                _metric_label(metric.key),
                format_figure(metric.key, old),
                format_figure(metric.key, new),
                change,
            ]
        )
    lines = [f"Change against {old_label}:", text_table(rows)]
    lines.append("Newly missed: " + (", ".join(comparison.newly_missed) or "none"))
    lines.append("Newly passing: " + (", ".join(comparison.newly_passing) or "none"))
    return printable("\n".join(lines))


# Markdown

# Characters that can start markup inside a line; every line the report builds from
# user text starts with fixed text, so line-start markers (#, -, 1.) need no escape.
_MARKDOWN_SPECIAL_RE = re.compile(r"([\\`*_\[\]<>|~&])")


def markdown_text(text: str) -> str:
    """Text shown literally in Markdown (and in a table cell): specials escaped, one line."""
    return _MARKDOWN_SPECIAL_RE.sub(r"\\\1", " ".join(text.split()))


def _markdown_table(rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(" --- " for _ in rows[0]) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def _counted(figures: GroupFigures, key: str) -> str:
    return f"{figures.counted.get(key, 0)} {METRIC_BY_KEY[key].counted_over}"


def markdown_report(run: EvalRun) -> str:
    """A report to paste into a pull request: summary, per-group table, the misses."""
    overall = run.figures["all"]
    summary = [["figure", "value", "counted over"]]
    for metric in METRICS:
        summary.append(
            [
                _metric_label(metric.key),
                format_figure(metric.key, overall.values.get(metric.key)),
                _counted(overall, metric.key),
            ]
        )
    missed = misses(run)
    parts = [
        f"# newsbot eval: {markdown_text(Path(run.questions_file).name)}",
        "",
        markdown_text(run_heading(run)),
        "",
        f"{overall.questions} questions, {overall.answerable} answerable; "
        f"{len(run.results) - len(missed)} passed, {len(missed)} missed.",
        "",
        "## Summary",
        "",
        _markdown_table(summary),
        "",
        "## By language and by same-language / cross-lingual",
        "",
        _markdown_table(figures_rows(run.figures)),
        "",
        "Cross-lingual: the question's language differs from every expected source's "
        "language. Unanswerable questions have no expected source, so they are in neither "
        "of the last two columns.",
        "",
        f"## Misses ({len(missed)})",
        "",
    ]
    if not missed:
        parts.append("None.")
    for result, reasons in missed:
        parts += _markdown_miss(result, reasons)
    issues = hygiene_issues(run)
    parts += [
        "",
        "## Answer hygiene",
        "",
        markdown_text(hygiene_summary(run)),
        "",
        "A headline is an article's title or a short line without a final stop; a fragment "
        "opens with a closing quote or a lowercase continuation, or ends on a colon; a "
        "sentence in another language than the question's needs a note naming its article "
        "before it.",
        "",
    ]
    if not issues:
        parts.append("No answer reads badly.")
    for result, problems in issues:
        parts.append(f"- **{markdown_text(result.id)}** ({result.language}):")
        parts += [f"  - {markdown_text(problem)}" for problem in problems]
    if run.errors:
        parts += ["", f"## Lines not run ({len(run.errors)})", ""]
        parts += [f"- line {e.line}: {markdown_text(e.error)}" for e in run.errors]
    # Questions, names and answers quote files: the report is read in terminals too.
    return printable("\n".join(parts) + "\n")


def _markdown_miss(result: QuestionResult, reasons: list[str]) -> list[str]:
    def names(sources: Sequence[str]) -> str:
        shown = [f"`{s}`" if "`" not in s else markdown_text(s) for s in sources]
        return ", ".join(shown) if shown else "none"

    expected = names(result.expected_sources) if result.answerable else "nothing (should abstain)"
    lines = [
        f"### {markdown_text(result.id)} ({result.language}, {_crossing_label(result)})",
        "",
        f"> {markdown_text(result.question)}",
        "",
        f"- **why:** {markdown_text('; '.join(reasons))}",
        f"- **expected:** {expected}",
    ]
    if result.expected_keywords:
        groups = " and ".join(
            "(" + " or ".join(markdown_text(a) for a in group) + ")"
            for group in result.expected_keywords
        )
        lines.append(f"- **keywords:** {groups}")
    lines.append(f"- **retrieved:** {names(result.ranked_sources)}")
    if result.abstained:
        lines.append("- **answer:** abstained")
    else:
        lines.append(f"- **cited:** {names(result.cited_sources)}")
        excerpt = result.answer
        if len(excerpt) > ANSWER_EXCERPT_CHARS:
            excerpt = excerpt[:ANSWER_EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"
        lines.append(f"- **answer:** {markdown_text(excerpt)}")
    lines.append("")
    return lines


# Chart


def plot_report(run: EvalRun, path: Path) -> None:
    """A bar chart of the main figures for each group. Labels are ASCII only, so no
    font or right-to-left shaping is needed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(run.figures)
    metrics = [METRIC_BY_KEY[key] for key in PLOTTED_METRICS]
    width = 0.8 / len(metrics)
    figure, axes = plt.subplots(figsize=(12, 5.5), dpi=110)
    colours = plt.get_cmap("tab10").colors  # type: ignore[attr-defined]
    for i, metric in enumerate(metrics):
        for g, group in enumerate(groups):
            value = run.figures[group].values.get(metric.key)
            position = g - 0.4 + width * (i + 0.5)
            axes.bar(
                position,
                value or 0.0,
                width * 0.92,
                color=colours[i],
                label=metric.label if g == 0 else None,
            )
            if not value:  # a zero bar is invisible and a missing one is not a zero
                note = "n/a" if value is None else "0"
                axes.text(position, 0.01, note, ha="center", va="bottom", fontsize=7, rotation=90)
    for boundary in (0.5, len(groups) - len(CROSSING_GROUPS) - 0.5):
        axes.axvline(boundary, color="grey", linestyle=":", linewidth=1)
    axes.set_xticks(
        range(len(groups)),
        [f"{group}\n{run.figures[group].questions} questions" for group in groups],
    )
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("share (1 is best)")
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    axes.set_title(f"newsbot eval: {Path(run.questions_file).name} ({run.started})")
    axes.legend(ncols=len(metrics), loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)
    figure.tight_layout()
    try:
        figure.savefig(path)
    finally:
        plt.close(figure)
