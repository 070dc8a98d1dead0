"""``insights discover INPUT``: batch theme discovery over a CSV or JSONL file with the stream's ThemeModel."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np

OUTPUT_COLUMNS = (
    "id", "theme_id", "theme_label", "coarse_theme_id", "coarse_theme_label", "empathy_category", "similarity",
)


def cell_text(value: Any) -> str:
    """A cell as text: None is empty, JSON objects stay JSON, and lone surrogates (from JSON escapes) are
    replaced, so one broken character cannot stop the tokenizer or the output file."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.encode("utf-8", "replace").decode("utf-8")


def write_atomically(path: Path, write) -> None:
    """Write through a temporary file renamed into place: a failure never leaves half a file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            write(fh)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _batches(texts: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(texts), size):
        yield texts[start : start + size]


def embed_with_progress(embedder, texts: list[str], batch_size: int = 256) -> np.ndarray:
    """Embed in batches under a tqdm bar (the slow step on a CPU)."""
    from tqdm import tqdm

    parts = []
    with tqdm(total=len(texts), desc="embedding", unit="text") as bar:
        for batch in _batches(texts, batch_size):
            parts.append(embedder.encode(batch))
            bar.update(len(batch))
    return np.vstack(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)


def summary_table(model, predictions, limit: int = 30) -> str:
    """Fine themes, largest first: id, size, coarse parent, empathy category, label, keywords."""
    counts = Counter(p.theme_id for p in predictions)
    lines = [f"{'theme':7s} {'items':>6s} {'coarse':7s} {'empathy':13s} {'label':28s} keywords"]
    fine = [t for t in model.themes if t.level == "fine"]
    for t in sorted(fine, key=lambda t: -counts.get(t.theme_id, 0))[:limit]:
        lines.append(
            f"{t.theme_id:7s} {counts.get(t.theme_id, 0):6d} {t.parent_id or '':7s} {t.empathy_category or '':13s} "
            f"{t.label[:28]:28s} {', '.join(t.keywords[:5])}"
        )
    if len(fine) > limit:
        lines.append(f"... {len(fine) - limit} more fine themes")
    coarse = len([t for t in model.themes if t.level == "coarse"])
    unassigned = counts.get(None, 0)
    lines.append(
        f"{len(fine)} fine themes, {coarse} coarse; {unassigned} of {len(predictions)} items unassigned "
        f"({unassigned / max(len(predictions), 1):.1%})"
    )
    return "\n".join(lines)


@click.command("discover")
@click.argument("input_file", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--text-column", default="text", show_default=True, help="Column (or JSON key) holding the feedback.")
@click.option("--id-column", default=None, help="Column with the item id (default: the row number).")
@click.option("--output", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV with one row per input row: id,theme_id,theme_label,coarse_theme_id,...,empathy_category.")
@click.option("--themes-output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the themes (labels, keywords, quotes, lineage) as JSON Lines.")
@click.option("--model", "model_name", envvar="EMBEDDING_MODEL", default="all-MiniLM-L6-v2", show_default=True,
              help="sentence-transformers model (name or local folder).")
@click.option("--min-cluster-size", type=click.IntRange(2), default=None,
              help="Override the HDBSCAN minimum theme size (default grows with the data).")
@click.option("--cache/--no-cache", default=True, show_default=True,
              help="Keep the file's embeddings in .cache/embeddings for reruns.")
@click.option("--redact/--no-redact", default=True, show_default=True,
              help="Replace e-mail addresses, phone, card and account numbers before embedding, as the stream does: "
                   "keywords, labels and quotes then never carry them.")
@click.option("--top", default=30, show_default=True, type=click.IntRange(1), help="Themes shown in the summary table.")
def discover(
    input_file: Path,
    text_column: str,
    id_column: str | None,
    output: Path | None,
    themes_output: Path | None,
    model_name: str,
    min_cluster_size: int | None,
    cache: bool,
    redact: bool,
    top: int,
) -> None:
    """Discover themes in a CSV or JSONL file of feedback, with the same model the stream uses.

    Prints a summary table of the themes; with --output, writes one row per input row (theme_id empty only
    for feedback left unassigned).
    """
    from insights.embedding import Embedder
    from insights.redact import redact as redact_pii
    from insights.tabular import TableError, read_table, require_columns
    from insights.themes import ThemeModel, ThemePrediction
    from insights.themes.cache import cached_embeddings

    try:
        rows = read_table(input_file)
    except TableError as exc:
        raise click.BadParameter(str(exc), param_hint="INPUT") from exc
    try:
        require_columns(rows, [text_column, id_column], input_file)
    except TableError as exc:
        raise click.BadParameter(str(exc), param_hint="--text-column / --id-column") from exc
    texts = [cell_text(r.get(text_column)) for r in rows]
    ids = [str(i) for i in range(len(rows))]
    if id_column:
        given = [cell_text(r.get(id_column)) for r in rows]
        no_id = [i for i, v in enumerate(given) if not v]
        ids = [v or str(i) for i, v in enumerate(given)]
        if no_id:
            click.echo(f"{len(no_id)} rows have no {id_column!r} (first: row {no_id[0]}): their row number is "
                       "their id", err=True)
    has_text = [i for i, t in enumerate(texts) if t.strip()]
    click.echo(f"{len(texts)} rows from {input_file}"
               + (f"; {len(texts) - len(has_text)} without text stay unassigned" if len(has_text) < len(texts)
                  else ""), err=True)
    embedder = Embedder(model_name)
    model = ThemeModel(embedder=embedder, min_cluster_size=min_cluster_size)
    kept = [redact_pii(texts[i]) if redact else texts[i] for i in has_text]
    truncated = embedder.count_truncated(kept)
    if truncated:
        click.echo(f"{truncated} texts are longer than the model reads ({embedder.max_tokens} tokens): only their "
                   "beginning counts toward their theme", err=True)
    if not kept:
        x = np.zeros((0, embedder.dimension), dtype=np.float32)
    elif cache:
        x = cached_embeddings(kept, _ProgressEncoder(embedder), f"discover-{input_file.stem}", model_name)
    else:
        x = embed_with_progress(embedder, kept)
    click.echo("discovering themes ...", err=True)
    found = model.fit_predict(kept, x, ids=[ids[i] for i in has_text]) if kept else []
    predictions = [ThemePrediction(None, None, None, 0.0)] * len(texts)
    for i, p in zip(has_text, found, strict=True):
        predictions[i] = p
    click.echo(summary_table(model, predictions, limit=top))
    if not model.registry.active("fine"):
        needed = model.params.resolved_min_cluster_size(len(kept))
        click.echo(f"no themes: {len(kept)} rows with text are too few or too alike to find themes of at least "
                   f"{needed} (try --min-cluster-size, or more feedback)", err=True)
    if output:
        def write_rows(fh) -> None:
            writer = csv.writer(fh)
            writer.writerow(OUTPUT_COLUMNS)
            for item_id, p in zip(ids, predictions, strict=True):
                writer.writerow([
                    item_id, p.theme_id or "", p.theme_label or "", p.coarse_theme_id or "",
                    p.coarse_theme_label or "", p.empathy_category or "", f"{p.similarity:.4f}",
                ])

        write_atomically(output, write_rows)
        click.echo(f"wrote {len(predictions)} rows to {output}", err=True)
    if themes_output:
        events = model.pop_events()
        write_atomically(themes_output, lambda fh: fh.writelines(json.dumps(e.to_message()) + "\n" for e in events))


class _ProgressEncoder:
    """Adapter so the cache fills itself through the progress bar."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.model_name = embedder.model_name

    def encode(self, texts, show_progress: bool = False) -> np.ndarray:
        return embed_with_progress(self.embedder, list(texts))


command = discover

if __name__ == "__main__":  # pragma: no cover
    discover()
