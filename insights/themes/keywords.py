"""Readable theme descriptions: c-TF-IDF keywords, a short label and representative quotes.

c-TF-IDF (as in BERTopic) treats all feedback of a theme as one document, so a term ranks high when it is
frequent in this theme and rare across the others. Term counts per theme are kept bounded (the least frequent
terms are pruned), so the stream can keep labels current without storing the feedback itself.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np

TOKEN = re.compile(r"[^\W\d_][\w'’-]*[^\W_]|[^\W\d_]", re.UNICODE)
MAX_TERMS_PER_THEME = 400
MAX_WORD_LENGTH = 40  # longer "words" are URLs, hashes or keyboard mashing, never a label (German compounds fit)


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    # Filler of questions and complaints in any domain (not domain words): they make poor labels.
    extra = {
        "im", "ive", "just", "really", "like", "get", "got",
        "does", "did", "doing", "need", "want", "able", "way", "know", "tell", "please", "help", "hi", "hello",
        "thanks", "thank", "long", "possible", "make", "use", "used", "going", "still", "yet", "ok", "okay",
        "theres", "thats", "whats", "youre", "theyre", "ill", "id", "theyd", "youd", "hed", "youve", "theyve", "weve",
        # interjections that open a comment ("Wow, ...", "Honestly, ..."): never what it is about
        "honestly", "wow", "ugh", "hmm", "oh", "yeah", "um", "uh", "lol", "tbh", "ngl", "btw",
        "gonna", "wanna", "gotta",
    }
    return frozenset(ENGLISH_STOP_WORDS | extra)


# Set phrases that only frame a comment. Word by word they leave content words behind: "Not gonna lie, I was
# told ..." gave a theme the label "lie told", read as "lied to"; "I have to say, really happy" "say happy".
FRAMING = re.compile(
    r"\b(?:not\s+gonna\s+lie|not\s+going\s+to\s+lie|to\s+be\s+honest|in\s+all\s+honesty|"
    r"(?:i\s+)?(?:have|had|must|got)\s+to\s+say|i\s+must\s+say|(?:i\s+)?just\s+want(?:ed)?\s+to\s+say)\b",
    re.IGNORECASE,
)


# Negations are stop words, but dropping them turns "super smooth, no complaints" into the label "smooth
# complaints" and "refund hasn't arrived" into "refund arrived". The word right after one keeps it instead.
NEGATORS = {"no": "no", "never": "never", "without": "no"} | dict.fromkeys(
    ["not", "nor", "cannot", "dont", "didnt", "doesnt", "isnt", "arent", "wasnt", "werent", "hasnt", "havent",
     "hadnt", "wont", "wouldnt", "cant", "couldnt", "shouldnt", "aint"], "not")
NEGATIONS = frozenset(NEGATORS.values())  # what a negated term starts with: never the word that tells labels apart
# A pair of words across a sentence end is no phrase: "couldn't log in. Fix this." made "not log fix" a keyword.
SENTENCE_END = re.compile(r"[.!?;]+(?=\s|$)|\n")
_CLAUSE_BREAK = re.compile(r"[.,;:!?\n]")


def terms_of(text: str) -> list[str]:
    """Unigrams and bigrams of content words (stop words dropped, lower case, apostrophes removed); a word right
    after a negation is one term with it ("no complaints", "not arrived"); no bigram spans a sentence end."""
    spans = _term_spans(text)
    ends = [m.start() for m in SENTENCE_END.finditer(text)]
    pairs = [f"{a} {b}" for (a, _, a_end), (b, b_start, _) in zip(spans, spans[1:], strict=False)
             if a != b and not any(a_end <= e < b_start for e in ends)]
    return [term for term, _, _ in spans] + pairs


def _term_spans(text: str) -> list[tuple[str, int, int]]:
    """The content words of ``text`` as terms, each with where it starts (its negation, if any) and ends."""
    stop = _stop_words()
    framing = [f.span() for f in FRAMING.finditer(text)]
    spans: list[tuple[str, int, int]] = []
    negation: tuple[str, int] | None = None
    for m in TOKEN.finditer(text):
        if any(a <= m.start() < b for a, b in framing):
            continue
        w = m.group().lower().replace("'", "").replace("’", "")
        if w in NEGATORS:
            negation = (NEGATORS[w], m.start())
            continue
        if negation and _CLAUSE_BREAK.search(text, negation[1], m.start()):
            negation = None  # "No, the agent was great" is not "no agent"
        if 1 < len(w) <= MAX_WORD_LENGTH and w not in stop:
            term, start = (f"{negation[0]} {w}", negation[1]) if negation else (w, m.start())
            spans.append((term, start, m.end()))
        negation = None  # only the word right after it: "no one took" is not "no took"
    return spans


def count_terms(texts: Iterable[str]) -> Counter[str]:
    """Term counts of a group of texts, each text counted once per term (robust to repetitive rants)."""
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(set(terms_of(t)))
    return counts


def prune(counts: Counter[str], keep: int = MAX_TERMS_PER_THEME) -> Counter[str]:
    """Keep the ``keep`` most frequent terms: bounded memory per theme."""
    if len(counts) <= keep:
        return counts
    return Counter(dict(counts.most_common(keep)))


def ctfidf_keywords(term_counts: Mapping[str, Counter[str]], top_n: int = 8) -> dict[str, list[str]]:
    """Top c-TF-IDF terms for each group: tf within the group x log(1 + average group size / term frequency)."""
    if not term_counts:
        return {}
    totals = {g: sum(c.values()) or 1 for g, c in term_counts.items()}
    avg = sum(totals.values()) / len(totals)
    df: Counter[str] = Counter()
    for c in term_counts.values():
        df.update(c)
    out: dict[str, list[str]] = {}
    for g, counts in term_counts.items():
        small = len(counts) < 20  # tiny themes: single mentions are all there is
        # ... but they come after every term two customers used: one "customer220" or typo is no label
        scored = [(cnt < 2, -cnt / totals[g] * math.log(1 + avg / df[t]), t)
                  for t, cnt in counts.items() if cnt >= 2 or small]
        scored.sort()
        out[g] = _drop_redundant([t for *_, t in scored], top_n)
    return out


def _drop_redundant(terms: Sequence[str], top_n: int) -> list[str]:
    """Skip a unigram already shown inside a better-ranked bigram ("card" after "card arrive")."""
    chosen: list[str] = []
    for t in terms:
        if " " not in t and any(t in c.split() for c in chosen if " " in c):
            continue
        chosen.append(t)
        if len(chosen) == top_n:
            break
    return chosen


def short_label(keywords: Sequence[str], fallback: str) -> str:
    """A short label: the best phrase if a bigram is among the top three keywords, else the top two words.

    A negated word ("not listen") is one word here: preferring it to a better-ranked "good" labelled a theme of
    short answers, "good" and "didn't listen" alike, as "didn't listen".
    """
    if not keywords:
        return fallback
    for kw in keywords[:3]:
        if len(_content(kw).split()) > 1:
            return kw
    return ", ".join(keywords[:2])


def _content(term: str) -> str:
    """A term without its negation: "not listen" → "listen", "card not working" → "card working"."""
    return " ".join(w for w in term.split() if w not in NEGATIONS)


PHRASE_MAX_WORDS = 7
_BREAKS = re.compile(r"[.,;:!?()\[\]\"\d$£€¥]")  # a label does not run across a clause, and names no amount


def label_phrase(label: str, quotes: Sequence[str], max_words: int = PHRASE_MAX_WORDS) -> str:
    """The label as customers wrote it: its keyword pair with the words between them, taken from the quotes
    ("verify identity" → "verify my identity", "not listen" → "didn't listen", "reading script" → "reading
    from a script").

    Why: c-TF-IDF terms drop stop words, so a label of two keywords reads like a telegram. The phrase most of the
    quotes share wins (the most central on a tie); a phrase that crosses punctuation, names a number or runs past
    ``max_words`` is no label, and the keyword label stays.
    """
    if "," in label:  # two keywords: each as written
        return ", ".join(label_phrase(part.strip(), quotes, max_words) for part in label.split(","))
    if not label:
        return label
    found: Counter[str] = Counter()
    first: dict[str, int] = {}
    for rank, quote in enumerate(quotes):
        phrase = _surface(label, quote)
        if phrase and not _BREAKS.search(phrase) and len(phrase.split()) <= max_words:
            found[phrase] += 1
            first.setdefault(phrase, rank)
    return max(found, key=lambda p: (found[p], -first[p])) if found else label


def _surface(label: str, text: str) -> str | None:
    """The first stretch of ``text`` whose terms (as ``terms_of`` makes them) are ``label``, lower case."""
    spans = _term_spans(text)
    for i, (term, start, end) in enumerate(spans):
        if term == label:
            return " ".join(text[start:end].lower().split())
        if i + 1 < len(spans) and f"{term} {spans[i + 1][0]}" == label:
            return " ".join(text[start:spans[i + 1][2]].lower().split())
    return None


def label_words(label: str) -> set[str]:
    """The content words of a label (keyword or phrase), as keywords spell them: what must still rank for it."""
    return {w for t in terms_of(label.replace(",", " ")) for w in t.split()}


def distinguish_labels(
    labels: Mapping[str, str], keywords: Mapping[str, Sequence[str]], depth: int = 6
) -> dict[str, str]:
    """The labels, where two or more themes share one, each extended by its best keyword word that the others'
    top ``depth`` keywords lack ("exchange rate, cash" / "exchange rate, incorrect").

    Why: c-TF-IDF ranks a theme's terms against all themes, so close siblings ("exchange rate" for cash and for
    card payments) often get the same top phrase; a dashboard listing the same label twice makes the reader
    open both to see the difference. Banking77 train had 21 of 158 themes sharing a label.
    """
    by_label: dict[str, list[str]] = {}
    for tid, label in labels.items():
        by_label.setdefault(label, []).append(tid)
    out = dict(labels)
    for label, tids in by_label.items():
        if len(tids) < 2:
            continue
        taken = {_stem(w) for w in label.replace(",", " ").split()}
        words = {t: [w for kw in keywords.get(t, [])[:depth] for w in kw.split() if w not in NEGATIONS]
                 for t in tids}
        for tid in sorted(tids):
            others = {_stem(w) for o in tids if o != tid for w in words[o]}
            fresh = [w for w in words[tid] if _stem(w) not in taken]
            pick = next((w for w in fresh if _stem(w) not in others), fresh[0] if fresh else None)
            if pick is not None:
                out[tid] = f"{label}, {pick}"
                taken.add(_stem(pick))
    seen: Counter[str] = Counter()
    for tid in sorted(out):  # no word left to tell them apart: number the later ones
        seen[out[tid]] += 1
        if seen[out[tid]] > 1:
            out[tid] = f"{out[tid]} ({seen[out[tid]]})"
    return out


def _stem(word: str) -> str:
    """Crude plural folding, enough to tell "rate" and "rates" are one word when comparing labels."""
    word = word.lower()
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def representative_quotes(texts: Sequence[str], sims: np.ndarray, n: int = 3, max_chars: int = 280) -> list[str]:
    """The ``n`` most central distinct texts (by similarity to the centroid), trimmed for display."""
    seen: set[str] = set()
    quotes: list[str] = []
    for i in np.argsort(-np.asarray(sims)):
        text = " ".join(texts[int(i)].split())
        key = text.lower()
        if not text or key in seen:
            continue
        seen.add(key)
        quotes.append(text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…")
        if len(quotes) == n:
            break
    return quotes
