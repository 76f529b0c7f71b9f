"""What a chat remembers (its last few question/answer turns), and how a short follow-up
("and Amazon?", "et pour Amazon ?", "وماذا عن أمازون؟") is read with the question before it
when there is no language model to rewrite it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rag.models import Turn
from rag.text.analysis import analyzer_for, surface_tokens

# A follow-up is short: at most this many words after its opener ("and what about …")...
MAX_FOLLOW_UP_WORDS = 6
# ... or, with no opener, a bare name or noun phrase of this many words ("Amazon?").
MAX_BARE_WORDS = 3

# The words that open a follow-up, matched on normalised tokens (accents and Arabic
# spelling variants folded), longest first. Arabic "و" is also written joined to the next
# word ("وأمازون؟"): the analyser strips it from a term, so such a question is read as a
# bare noun phrase.
_OPENERS = [
    # English
    "and what about",
    "and how about",
    "and what of",
    "and as for",
    "what about",
    "how about",
    "what of",
    "as for",
    "same question for",
    "same for",
    "and",
    # French
    "et qu'en est-il",
    "qu'en est-il",
    "et pour ce qui est de",
    "pour ce qui est de",
    "et du côté de",
    "du côté de",
    "et quant à",
    "et quant au",
    "et quant aux",
    "quant à",
    "quant au",
    "quant aux",
    "et concernant",
    "même question pour",
    "pareil pour",
    "et pour",
    "et",
    # Arabic
    "وماذا عن",
    "ماذا عن",
    "وماذا بشأن",
    "ماذا بشأن",
    "وما رأيك في",
    "وبالنسبة إلى",
    "بالنسبة إلى",
    "وبالنسبة",
    "بالنسبة",
    "وكذلك",
    "وعن",
    "و",
]
# Words that phrase a question rather than name what it is about.
_QUESTION_WORDS = {
    "en": "what who whom whose when where why how which much many long old "
    "did does do is are was were can could will would should has have had",
    "fr": "que quoi qui quand où pourquoi comment combien quel quelle quels quelles "
    "lequel laquelle lesquels lesquelles qu'est",
    "ar": "ما ماذا لماذا متى كيف كم هل أين من أي ماهو ماهي",
}
_EDGE_PUNCTUATION = " \t?؟!.…,،;؛:«»\"'“”‘’()[]-–—"


def _tokens(words: str) -> tuple[str, ...]:
    return tuple(surface_tokens(words))


_OPENER_TOKENS = sorted({_tokens(opener) for opener in _OPENERS}, key=len, reverse=True)
_QUESTION_TOKENS = frozenset(
    token for words in _QUESTION_WORDS.values() for word in words.split() for token in _tokens(word)
)


@dataclass(frozen=True)
class FollowUp:
    """A short question read together with the one before it.

    `focus` is what the follow-up asks about ("Amazon"): the passages must be about it.
    It is empty when the follow-up names nothing new ("and when?", "pourquoi ?") and the
    earlier question is searched with its words alone.
    """

    previous: str
    focus: str
    search_text: str


Alone = Literal["no_previous", "too_long"]


@dataclass(frozen=True)
class Reading:
    """How a question is read: as a follow-up, or on its own. `alone` says why a question
    phrased like a follow-up ("and when?") was read on its own."""

    follow_up: FollowUp | None = None
    alone: Alone | None = None


def _joined_conjunction(token: str) -> bool:
    """Whether the token is Arabic "و" (and) written joined to a question word ("ومتى")."""
    return len(token) > 2 and token.startswith("و") and token[1:] in _QUESTION_TOKENS


def _is_question_word(tokens: tuple[str, ...]) -> bool:
    return any(token in _QUESTION_TOKENS or _joined_conjunction(token) for token in tokens)


def _without_conjunction(word: str) -> str:
    """ "ومتى؟" as "متى؟", which the analyser drops as a question word: "ومتى" would be
    searched as a word no article holds."""
    tokens = _tokens(word)
    return word[1:] if len(tokens) == 1 and _joined_conjunction(tokens[0]) else word


def _opener_length(word_tokens: list[tuple[str, ...]]) -> int:
    """How many of the words open the question as a follow-up ("and what about"); 0 if none."""
    for opener in _OPENER_TOKENS:
        flat: tuple[str, ...] = ()
        for count, tokens in enumerate(word_tokens, 1):
            flat += tokens
            if flat == opener:
                return count
            if len(flat) >= len(opener) or flat != opener[: len(flat)]:
                break
    return 0


def read_question(question: str, language: str, previous: Turn | None) -> Reading:
    """Whether `question` is a follow-up of the `previous` turn, without a language model.

    Read conservatively: a question is a follow-up when it is short and opens like one
    ("and …", "what about …", "et pour …", "quant à …", "وماذا عن …", "و …"), when it only
    asks ("and when?", "pourquoi ?", "ومتى؟"), or when it is a bare name or noun phrase
    with a question mark ("Amazon?").
    """
    words = [word for word in question.split() if _tokens(word)]
    word_tokens = [_tokens(word) for word in words]
    opener = _opener_length(word_tokens)
    rest = words[opener:]
    asking = [_is_question_word(tokens) for tokens in word_tokens[opener:]]
    focus = " ".join(word for word, asks in zip(rest, asking, strict=True) if not asks)
    focus = focus.strip(_EDGE_PUNCTUATION)
    names_something = bool(analyzer_for(language).terms(focus))
    only_asks = any(asking) and not names_something
    bare = (
        not opener
        and not any(asking)
        and names_something
        and len(words) <= MAX_BARE_WORDS
        and question.rstrip().endswith(("?", "؟"))
    )
    phrased_as_follow_up = bool(opener) or only_asks
    if not phrased_as_follow_up and not bare:
        return Reading()
    if previous is None:
        return Reading(alone="no_previous" if phrased_as_follow_up else None)
    if len(rest) > MAX_FOLLOW_UP_WORDS:
        return Reading(alone="too_long")
    own_words = " ".join(_without_conjunction(word) for word in rest).strip(_EDGE_PUNCTUATION)
    if not names_something:
        # "and when?" after "and Amazon?" still asks about Amazon.
        focus = previous.focus or ""
        own_words = " ".join(part for part in (focus, own_words) if part)
    search_text = " ".join(part for part in (previous.standalone, own_words) if part)
    return Reading(FollowUp(previous=previous.standalone, focus=focus, search_text=search_text))
