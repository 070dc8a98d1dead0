"""Empathy categories per feedback item: our matcher against the nearest-seeds rule it replaced, same embeddings.

Data: the demo's simulated stream (``FeedbackSimulator`` seed 7, 8 agents, 300 items an hour, rude complaints
for agent a-07 rising from the ninth hour), whose true theme and empathy category are known. Its templates
were never used to write the taxonomy's seeds, so this is text the matcher has not seen; it is still one
generator's phrasing, and real feedback is more varied.

- ``nearest seeds``: the rule used alone before 2026-12-05 (on today's seeds): mean similarity to each class's 3
  nearest seeds, a category when it clears a threshold and beats "not empathy" by a margin, both chosen by
  leave-one-out F1 over the seeds.
- ``classifier``: a logistic regression on the seeds (one class per category and one per group of "not empathy"
  seeds), its threshold by out-of-fold F0.5.
- ``EmpathyMatcher``: the product: the classifier's category where the nearest seeds confirm it, else the
  nearest seeds' own unless the classifier gives "not empathy" its calibrated veto or more.
- ``stream (ThemeModel)``: what the worker stores: themes seeded from 1,500 historic items, then each batch of
  64 predicted and learnt; an item the matcher leaves alone takes its theme's category.

Printed per method: items flagged, precision and recall against the true categories, F0.5 (precision weighs
double), how many items that are not empathy problems were flagged (and how many of those are praise), and
the recall per category. Then, where ../shared/data/banking77 is present, how many of Banking77 test's 3,080
real customer questions (PolyAI, CC BY 4.0; Casanueva et al. 2020) each matcher flags: its 77 intents are
banking tasks, none about how a person treated the customer, and none was written for this product, so a flag
there is a false alarm on text nobody tuned against. Last, where ``benchmarks/other_datasets.py`` has built
.cache/datasets/cfpb_complaints.csv, what the product flags in 4,000 real complaints to the US Consumer Financial
Protection Bureau, with examples per category to read: nobody labelled them for empathy, so this is no score,
but it shows what the matcher does with real complaints. Embeddings are cached in .cache/embeddings.

    .venv/bin/python benchmarks/empathy.py             # 6,000 items, about a minute once embedded
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from insights.simulator import FeedbackSimulator, Injection  # noqa: E402
from insights.themes.empathy import EMPATHY_CATEGORIES, EmpathyMatcher  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 12, 1, tzinfo=UTC)


def simulated(n: int, seed: int = 7) -> list:
    """The demo's stream: its settings (streams/demo.py), on a fixed clock."""
    rise = START + timedelta(hours=8)
    return FeedbackSimulator(
        seed=seed, start=START, agents=8, items_per_window=300, window=timedelta(hours=1),
        injections=[Injection(theme="rude", multiplier=6.0, start=rise, end=rise + timedelta(hours=200),
                              dimensions={"agent_id": "a-07"})],
    ).generate(n)


def stream_categories(items: list, x: np.ndarray, embedder, batch: int = 64) -> list[str | None]:
    from insights.themes import ThemeModel

    history = FeedbackSimulator(seed=1007, start=START - timedelta(days=30), items_per_window=10).generate(1500)
    model = ThemeModel(embedder=embedder)
    model.fit([h.text for h in history])
    texts = [i.text for i in items]
    out: list[str | None] = []
    for s in range(0, len(texts), batch):
        out += [p.empathy_category for p in model.predict(texts[s:s + batch], x[s:s + batch])]
        model.partial_fit(texts[s:s + batch], x[s:s + batch])
    return out


def score(name: str, pred: Sequence[str | None], items: list, seconds: float) -> dict:
    """Precision and recall against every empathy problem an item names (its main theme's and a tacked-on remark's).

    One category is stored per item, so an item naming two is right with either. "Not empathy" counts items
    that name no empathy problem at all and were flagged: the false alarms a CX team would see.
    """
    truth = [i.empathy_categories for i in items]
    flagged = sum(p is not None for p in pred)
    correct = sum(p is not None and p in t for p, t in zip(pred, truth, strict=True))
    actual = sum(bool(t) for t in truth)
    wrongly = [i.truth for p, i in zip(pred, items, strict=True) if p is not None and not i.empathy_categories]
    precision = correct / flagged if flagged else 0.0
    recall = correct / actual if actual else 0.0
    f05 = 1.25 * precision * recall / (0.25 * precision + recall) if precision + recall else 0.0
    main = [i.empathy_category for i in items]
    per = {c: sum(p in t for p, t, m in zip(pred, truth, main, strict=True) if m == c) / max(1, main.count(c))
           for c in EMPATHY_CATEGORIES}
    return {"name": name, "flagged": flagged, "precision": precision, "recall": recall, "f05": f05,
            "not_empathy": len(wrongly), "praise": Counter(wrongly).get("praise", 0), "per": per,
            "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=6000, help="simulated feedback items (default 6000)")
    ap.add_argument("--skip-stream", action="store_true", help="only the matchers, not the ThemeModel stream")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from insights.embedding import Embedder
    from insights.themes.cache import cached_embeddings

    embedder = Embedder("all-MiniLM-L6-v2")
    items = simulated(args.items)
    x = cached_embeddings([i.text for i in items], embedder, f"simulated-demo-{args.items}",
                          cache_dir=ROOT / ".cache" / "embeddings", show_progress=True)
    actual = sum(i.empathy_category is not None for i in items)
    remarks = sum(bool(i.empathy_categories) and i.empathy_category is None for i in items)
    print(f"{len(items):,} simulated items, {actual:,} of them empathy complaints "
          f"({', '.join(f'{c} {sum(i.empathy_category == c for i in items)}' for c in EMPATHY_CATEGORIES)}); "
          f"{remarks} more about something else with an empathy complaint tacked on (\"Also, the rep was rude.\")")
    matcher = EmpathyMatcher(embedder)
    print(f"calibrated on the seeds: {matcher.calibration}")
    rows = []
    scorers = (("nearest seeds (before)", "nearest"), ("classifier", "classifier"), ("EmpathyMatcher", "both"))
    for name, using in scorers:
        t0 = time.perf_counter()
        rows.append(score(name, [c for c, _ in matcher.classify(x, using=using)], items, time.perf_counter() - t0))
    if not args.skip_stream:
        t0 = time.perf_counter()
        rows.append(score("stream (ThemeModel)", stream_categories(items, x, embedder), items,
                          time.perf_counter() - t0))
    print(f"\n{'method':26s} {'flagged':>8s} {'precision':>10s} {'recall':>7s} {'F0.5':>6s} "
          f"{'not empathy':>12s} {'praise':>7s}  recall per category")
    for r in rows:
        per = " ".join(f"{c} {v:.2f}" for c, v in r["per"].items())
        print(f"{r['name']:26s} {r['flagged']:8,d} {r['precision']:10.3f} {r['recall']:7.3f} {r['f05']:6.3f} "
              f"{r['not_empathy']:12,d} {r['praise']:7,d}  {per}")
    before, now = rows[0], rows[2]
    print(f"EmpathyMatcher vs nearest seeds: precision {now['precision'] - before['precision']:+.3f}, "
          f"recall {now['recall'] - before['recall']:+.3f}, F0.5 {now['f05'] - before['f05']:+.3f}, "
          f"items wrongly flagged x{now['not_empathy'] / max(1, before['not_empathy']):.2f}")
    false_alarms_on_banking77(matcher, embedder, scorers)
    flags_on_real_complaints(matcher, embedder)


def false_alarms_on_banking77(matcher: EmpathyMatcher, embedder, scorers: Sequence[tuple[str, str]]) -> None:
    """Flags on Banking77 test: real questions to a bank, none an empathy complaint (skipped without the data)."""
    from discovery import DATA, embeddings_for, load_split  # the discovery benchmark's loader and cache

    if not (DATA / "test.csv").exists():
        print(f"\n(no Banking77 data at {DATA}: false alarms on real questions not measured)")
        return
    texts, _ = load_split("test")
    x, _ = embeddings_for(texts, "banking77-test", embedder)
    print(f"\nBanking77 test, {len(texts):,} real customer questions (77 banking intents, none an empathy "
          "complaint), flagged by:")
    for name, using in scorers:
        got = Counter(c for c, _ in matcher.classify(x, using=using) if c is not None)
        top = ", ".join(f"{c} {n}" for c, n in got.most_common(3))
        print(f"  {name:26s} {sum(got.values()):5,d} ({sum(got.values()) / len(texts):.1%})  {top}")


def flags_on_real_complaints(matcher: EmpathyMatcher, embedder, n: int = 4000, examples: int = 3) -> None:
    """Flags per category on real CFPB complaints, with the first words of a few, for a person to judge."""
    from discovery import embeddings_for, load_labelled

    path = ROOT / ".cache" / "datasets" / "cfpb_complaints.csv"
    if not path.exists():
        print("\n(no CFPB complaints: run benchmarks/other_datasets.py --prepare-only to read flags on real ones)")
        return
    texts, _ = load_labelled(path, "text", "label", n)
    x, _ = embeddings_for(texts, f"cfpb_complaints-{n}-0", embedder)
    cats = [c for c, _ in matcher.classify(x)]
    got = Counter(c for c in cats if c is not None)
    print(f"\nCFPB consumer complaints, {len(texts):,} real ones (public domain; not labelled for empathy): "
          f"{sum(got.values()):,} flagged ({sum(got.values()) / len(texts):.1%}): "
          + ", ".join(f"{c} {k}" for c, k in got.most_common()))
    for category, _ in got.most_common():
        for text in [t for t, c in zip(texts, cats, strict=True) if c == category][:examples]:
            print(f"  {category:13s} {' '.join(text.split())[:150]}")


if __name__ == "__main__":
    main()
