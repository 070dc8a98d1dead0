"""Precision and recall of PII redaction per kind on the labelled corpus, and its throughput.

    .venv/bin/python benchmarks/pii.py [--corpus tests/data/pii_corpus.jsonl] [--seconds 3]

A predicted span counts as correct when it overlaps a labelled span of the same kind; a labelled span
counts as found only when spans of its kind cover all of it (a half-redacted card is still a leak).
Throughput is measured on the corpus texts mixed with plain feedback, since most real messages hold no PII.
The test suite imports :func:`load_corpus` and :func:`score` from here, so the figures printed and the
floors asserted are computed the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from insights.redact import KINDS, Redactor, Span  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "pii_corpus.jsonl"


@dataclass
class KindScore:
    """Counts for one kind; precision and recall are 1.0 when there is nothing to get wrong."""

    predicted: int = 0
    predicted_correct: int = 0
    labelled: int = 0
    labelled_found: int = 0

    @property
    def precision(self) -> float:
        return self.predicted_correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.labelled_found / self.labelled if self.labelled else 1.0


@dataclass
class Report:
    """Per-kind scores plus whole-text checks, and the rows that went wrong (for test failure messages)."""

    kinds: dict[str, KindScore]
    rows: int
    exact: int
    negatives: int
    negatives_unchanged: int
    errors: list[str]

    @property
    def exact_rate(self) -> float:
        return self.exact / self.rows if self.rows else 1.0


def load_corpus(path: Path = CORPUS) -> list[dict]:
    """The labelled rows: ``text``, ``spans`` as ``[start, end, kind]`` and the ``expected`` output."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _covered(start: int, end: int, spans: Iterable[Span]) -> bool:
    pos = start
    for sp in sorted(spans, key=lambda s: s.start):
        if sp.start <= pos < sp.end:
            pos = sp.end
    return pos >= end


def score(rows: list[dict], find: Callable[[str], list[Span]] | None = None) -> Report:
    """Score a span finder (default: :meth:`Redactor.find`) against the labelled rows."""
    redactor = Redactor()
    find = find or redactor.find
    kinds = {k: KindScore() for k in KINDS}
    exact = negatives = negatives_unchanged = 0
    errors: list[str] = []
    for row in rows:
        text = row["text"]
        predicted = find(text)
        gold = [Span(s, e, k) for s, e, k in row["spans"]]
        for sp in predicted:
            kinds[sp.kind].predicted += 1
            if any(g.kind == sp.kind and g.start < sp.end and sp.start < g.end for g in gold):
                kinds[sp.kind].predicted_correct += 1
            else:
                errors.append(f"false {sp.kind}: {text[sp.start : sp.end]!r} in {text!r}")
        for g in gold:
            kinds[g.kind].labelled += 1
            if _covered(g.start, g.end, [sp for sp in predicted if sp.kind == g.kind]):
                kinds[g.kind].labelled_found += 1
            else:
                errors.append(f"missed {g.kind}: {text[g.start : g.end]!r} in {text!r}")
        out = _apply(text, predicted, redactor.placeholders)
        exact += out == row["expected"]
        if not gold:
            negatives += 1
            negatives_unchanged += out == text
    return Report(kinds, len(rows), exact, negatives, negatives_unchanged, errors)


def _apply(text: str, spans: list[Span], placeholders: dict[str, str]) -> str:
    parts, pos = [], 0
    for sp in sorted(spans, key=lambda s: s.start):
        parts += [text[pos : sp.start], placeholders[sp.kind]]
        pos = sp.end
    return "".join(parts) + text[pos:]


def throughput(texts: list[str], seconds: float) -> float:
    """Texts per CPU-second of one core through :func:`insights.redact.redact`, the pipeline's path.

    CPU time rather than wall time, so a busy machine slows the figure less; redaction never waits on I/O.
    """
    from insights.redact import redact

    n, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        for t in texts:
            redact(t)
        n += len(texts)
    return n / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--seconds", type=float, default=3.0, help="time spent on each throughput figure")
    parser.add_argument("--errors", action="store_true", help="list every miss and false detection")
    args = parser.parse_args(argv)

    rows = load_corpus(args.corpus)
    report = score(rows)
    print(f"corpus: {args.corpus} ({report.rows} texts, {report.negatives} without PII)")
    print(f"{'kind':<8} {'labelled':>8} {'found':>6} {'predicted':>9} {'correct':>7} {'precision':>9} {'recall':>7}")
    for kind, k in report.kinds.items():
        print(
            f"{kind:<8} {k.labelled:>8} {k.labelled_found:>6} {k.predicted:>9} {k.predicted_correct:>7}"
            f" {k.precision:>9.3f} {k.recall:>7.3f}"
        )
    print(f"exact redacted output: {report.exact}/{report.rows} ({report.exact_rate:.3f})")
    print(f"texts without PII left unchanged: {report.negatives_unchanged}/{report.negatives}")
    if args.errors:
        print("\n".join(report.errors) or "no errors")

    corpus_texts = [r["text"] for r in rows]
    plain = [r["text"] for r in rows if not r["spans"] and not any(c.isdigit() for c in r["text"])]
    mixed = corpus_texts + plain * 10  # most feedback holds no PII and often no digit at all
    print(f"throughput, corpus texts (avg {sum(map(len, corpus_texts)) / len(corpus_texts):.0f} chars): "
          f"{throughput(corpus_texts, args.seconds):,.0f} texts/s")  # fmt: skip
    print(f"throughput, corpus + 10x plain feedback: {throughput(mixed, args.seconds):,.0f} texts/s")
    long_text = " ".join(corpus_texts[:40])
    rate = throughput([long_text], args.seconds)
    print(f"throughput, one {len(long_text):,}-char text: {rate:,.0f} texts/s ({rate * len(long_text) / 1e6:.1f} MB/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
