"""Write the small retrieval fixture the tests ship (tests/fixtures/retrieval).

The first five paragraphs of the first two Wikipedia articles that have five, per
set (XQuAD-en, XQuAD-ar, PIAF; three paragraphs of three articles of ARCD's test
file), and up to four of each paragraph's questions: paragraphs of
one article share their topic, so the fixture keeps the hard part of the benchmark,
telling sibling paragraphs apart, in a test that runs in a second or two.

    uv run python benchmarks/make_fixture.py
"""

from __future__ import annotations

import argparse
import json
import shutil

from benchmark_data import PROJECT_ROOT, add_data_option, benchmarks_dir

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "retrieval"
SETS = {
    # set: (file, articles, paragraphs per article); ARCD's articles have three paragraphs
    "xquad-en": ("xquad/xquad.en.json", 2, 5),
    "xquad-ar": ("xquad/xquad.ar.json", 2, 5),
    "arcd": ("arcd/arcd-test.json", 3, 3),
    "piaf": ("piaf/piaf-v1.0.json", 2, 5),
}
QUESTIONS = 4
LICENCES = """# Retrieval regression fixture

Written by `uv run python benchmarks/make_fixture.py` from the public sets in
`../shared/benchmarks`: the first five paragraphs of the first two Wikipedia articles
with five or more (three paragraphs of three articles for ARCD), per set, and up to
four questions per paragraph (`questions.jsonl`: the question, the file of the
paragraph it was written on, and the set). Used by tests/test_retrieve.py.

- `xquad-en-*`, `xquad-ar-*`: XQuAD (Artetxe, Ruder & Yogatama 2019),
  github.com/deepmind/xquad, CC BY-SA 4.0.
- `arcd-*`: ARCD (Mozannar et al. 2019), github.com/husseinmozannar/SOQAL, MIT;
  the paragraphs are Arabic Wikipedia text, CC BY-SA.
- `piaf-*`: PIAF v1.0 (Keraron et al. 2020), github.com/etalab-ia/piaf-code, MIT;
  the paragraphs are French Wikipedia text, CC BY-SA.

The paragraphs are Wikipedia text, unchanged, shared under the same licences with
attribution to Wikipedia's authors and to the dataset authors above.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the retrieval fixture of the tests.")
    add_data_option(parser)
    root = benchmarks_dir(parser.parse_args().data)
    shutil.rmtree(FIXTURE, ignore_errors=True)
    articles = FIXTURE / "articles"
    articles.mkdir(parents=True)
    questions = []
    for name, (file, articles_wanted, paragraphs) in SETS.items():
        data = json.loads((root / file).read_text(encoding="utf-8"))["data"]
        picked = [n for n, a in enumerate(data) if len(a["paragraphs"]) >= paragraphs]
        for article in picked[:articles_wanted]:
            for number, paragraph in enumerate(data[article]["paragraphs"][:paragraphs]):
                source = f"{name}-{article}-{number}.txt"
                (articles / source).write_text(paragraph["context"] + "\n", encoding="utf-8")
                for qa in paragraph["qas"][:QUESTIONS]:
                    questions.append(
                        {"question": qa["question"].strip(), "gold": source, "set": name}
                    )
    with (FIXTURE / "questions.jsonl").open("w", encoding="utf-8") as out:
        for question in questions:
            out.write(json.dumps(question, ensure_ascii=False) + "\n")
    (FIXTURE / "README.md").write_text(LICENCES, encoding="utf-8")
    print(f"wrote {len(list(articles.iterdir()))} paragraphs and {len(questions)} questions")


if __name__ == "__main__":
    main()
