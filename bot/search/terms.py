"""Text as the search index sees it: pure functions shared by the indexer and the query parser.

The full-text index (``paper_search``, FTS5 with the ``unicode61`` tokenizer) holds Latin words as they
are and Chinese as overlapping character bigrams, so that two-character words (``水印``) and longer
phrases (``检索增强`` → ``检索 索增 增强``, matched as a phrase) both use the index. The ``trigram``
tokenizer was the alternative; it cannot match anything under three characters (``LM``, ``水印``)
without a full scan, and its vocabulary of trigrams is useless for spelling correction.
"""

from __future__ import annotations

import re
import unicodedata

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+")
_QUERY_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[^\W_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_TITLE_NICK = re.compile(r"^\s*(?P<nick>[^:：]{2,40}?)\s*[:：]")
_PAREN_NICK = re.compile(r"[(（]\s*(?P<nick>[A-Za-z][A-Za-z0-9\-]{1,19})\s*[)）]")

TERMS_VERSION = 1
"""The version of what :func:`nicknames` and :func:`index_text` return. Bump it with any change to them (or
to the patterns they use): a database whose stored search columns were derived by another version is
brought up to date when it is next opened (:mod:`bot.search.index`)."""

SYNONYMS: dict[str, str] = {
    "llm": "large language model",
    "llms": "large language models",
    "lm": "language model",
    "gan": "generative adversarial",
    "cot": "chain of thought",
    "rag": "retrieval augmented",
    "rl": "reinforcement learning",
    "nerf": "neural radiance",
}
"""Abbreviations a query may use for words a title spells out; tried when the literal query finds nothing."""


def normalise(text: str) -> str:
    """NFKC (full-width to ASCII) and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def cjk_bigrams(run: str) -> list[str]:
    """``"扩散模型"`` → ``["扩散", "散模", "模型"]``; a single character stays itself."""
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_text(text: str) -> str:
    """Text for the index: Latin words kept, each Chinese run replaced by its bigrams."""
    text = normalise(text)
    return _CJK_RUN.sub(lambda match: " " + " ".join(cjk_bigrams(match.group(0))) + " ", text)


def nicknames(title: str, summary: str = "") -> list[str]:
    """Names people call a paper by: the title's prefix before ``:`` (``MusicLM``, ``StyleGAN-T``) when
    short, and acronyms in parentheses in the title or summary (``(MAV3D)``, ``(DSP)``)."""
    found: list[str] = []
    match = _TITLE_NICK.match(title)
    if match and len(match["nick"].split()) <= 3:
        found.append(match["nick"].strip())
    for source in (title, summary):
        for paren in _PAREN_NICK.finditer(source):
            nick = paren["nick"]
            if sum(ch.isupper() for ch in nick) >= 2 and nick not in found:
                found.append(nick)
    return found


def compact(text: str) -> str:
    """Letters and digits only, case-folded: ``"StyleGAN-T"`` and ``"stylegan t"`` compare equal."""
    return "".join(_WORD.findall(normalise(text)))


def words(text: str) -> list[str]:
    """Latin words and Chinese runs of a query, in order, normalised; ``检索增强LM`` is two words, as the
    index has them."""
    return _QUERY_WORD.findall(normalise(text))


def is_cjk(word: str) -> bool:
    return bool(_CJK_RUN.fullmatch(word))


EDIT_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"
"""The letters an edit adds or changes to (a query word is lower-case ASCII when it is corrected)."""


def edits1(word: str) -> set[str]:
    """Every string one edit away (delete, adjacent swap, replace, insert) over ``[a-z0-9]``."""
    letters = EDIT_LETTERS
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {left + right[1:] for left, right in splits if right}
    swaps = {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    replaces = {left + c + right[1:] for left, right in splits if right for c in letters}
    inserts = {left + c + right for left, right in splits for c in letters}
    return (deletes | swaps | replaces | inserts) - {word}
