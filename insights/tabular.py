"""Reading the files people have: CSV (any common delimiter, BOM or not) and JSON Lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


class TableError(ValueError):
    """A file or column problem, worded for the person who passed the file."""


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a CSV or JSONL file as dicts (CSV cells stay strings; empty cells become None)."""
    path = Path(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise TableError(f"{path}:{number} is not JSON: {exc.msg}") from exc
                if not isinstance(row, dict):
                    raise TableError(f"{path}:{number} must be a JSON object")
                rows.append(row)
        return rows
    with path.open(newline="", encoding="utf-8-sig") as fh:
        sample = fh.read(64 * 1024)
        fh.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        return [{k: (v if v != "" else None) for k, v in row.items()} for row in csv.DictReader(fh, dialect=dialect)]


def require_columns(rows: Sequence[dict[str, Any]], columns: Iterable[str | None], path: str | Path = "input") -> None:
    """Fail with the available column names when a named column is missing."""
    if not rows:
        raise TableError(f"{path} has no rows")
    available = list(rows[0].keys())
    missing = [c for c in columns if c and c not in available]
    if missing:
        names = ", ".join(map(repr, missing))
        raise TableError(f"{path} has no column {names}; its columns are: {', '.join(available)}")
