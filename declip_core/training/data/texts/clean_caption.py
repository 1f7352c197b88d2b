"""Strip quality words from captions: 'a very blurry, noisy photo of a dog' -> 'a photo of a dog'."""
from __future__ import annotations

import re

from ._grammar import article
from .quality_words import QUALITY_MODIFIERS, QUALITY_PHRASE_RE, QUALITY_WORDS

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’\-]+[A-Za-z0-9]+)*|[^\sA-Za-z0-9]")
_PART = re.compile(r"[a-z0-9]+")
_PLACEHOLDER = "qualityphraseplaceholder"  # stands for a removed multi-word phrase; itself a quality token
_JOINERS = frozenset({",", "and", "or", "&", "/", "but", ";"})
_LEADERS = frozenset({",", ";", "and", "but", "with", "in", "showing", "having", "yet"})
_OF_AFTER = frozenset({"lots", "lot", "bit", "kind", "sort", "full"})
_ENDERS = frozenset({".", ",", ";", ":", "!", "?", ")", "]"})
_NO_SPACE_BEFORE = frozenset({".", ",", ";", ":", "!", "?", ")", "]", "'", "’"})
_NO_SPACE_AFTER = frozenset({"(", "["})


def _is_quality(token: str) -> bool:
    low = token.lower()
    return low == _PLACEHOLDER or any(p in QUALITY_WORDS for p in _PART.findall(low))


def _mark(tokens: list[str]) -> list[bool]:
    """Flag quality tokens, their modifiers, joiners between them and leaders of trailing spans."""
    drop = [_is_quality(t) for t in tokens]
    low = [t.lower() for t in tokens]
    for i in range(len(tokens) - 1, -1, -1):  # right to left so modifier chains extend
        if drop[i]:
            continue
        nxt = i + 1 < len(tokens) and drop[i + 1]
        if nxt and (low[i] in QUALITY_MODIFIERS or (low[i] == "of" and i > 0 and low[i - 1] in _OF_AFTER)):
            drop[i] = True
    for i in range(1, len(tokens) - 1):  # 'blurry and noisy' -> both halves and the joiner
        if low[i] in _JOINERS and drop[i - 1] and drop[i + 1]:
            drop[i] = True
    i = 0
    while i < len(tokens):
        if not drop[i]:
            i += 1
            continue
        j = i
        while j < len(tokens) and drop[j]:
            j += 1
        ends = j == len(tokens) or low[j] in _ENDERS or low[j] in _JOINERS
        if i > 0 and low[i - 1] in _LEADERS and (ends or low[i - 1] in ("with", "showing", "having")):
            drop[i - 1] = True
        i = j
    return drop


def _render(tokens: list[str]) -> str:
    out = ""
    for t in tokens:
        if out and t not in _NO_SPACE_BEFORE and out[-1] not in _NO_SPACE_AFTER:
            out += " "
        out += t
    out = re.sub(r"\(\s*\)|\[\s*\]", "", out)
    out = re.sub(r"\s*([,;:])(\s*[,;:.!?])+", r"\2", out)  # ', ,' -> ',' ; ', .' -> '.'
    out = re.sub(r"\s+([.,;:!?)\]])", r"\1", out)
    return re.sub(r"\s{2,}", " ", out).strip(" ,;:").strip()


def clean_semantic_text(text: str) -> str:
    """Remove quality words (and their modifiers) from a caption; may return '' if nothing is left."""
    if not isinstance(text, str):
        raise ValueError(f"expected a caption string, got {type(text).__name__}")
    tokens = _TOKEN.findall(QUALITY_PHRASE_RE.sub(f" {_PLACEHOLDER} ", text))
    drop = _mark(tokens)
    kept: list[str] = []
    fix_article: set[int] = set()
    for i, t in enumerate(tokens):
        if drop[i]:
            if kept and kept[-1].lower() in ("a", "an"):
                fix_article.add(len(kept) - 1)
            continue
        kept.append(t)
    for k in fix_article:
        if k + 1 < len(kept) and _PART.match(kept[k + 1].lower()):
            art = article(kept[k + 1])
            kept[k] = art.capitalize() if kept[k][0].isupper() else art
    result = _render(kept)
    if result and text.strip()[:1].isupper() and not result[0].isupper():
        result = result[0].upper() + result[1:]
    return result
