"""Reading the files people have: CSV or TSV (any common delimiter, BOM or not), JSON Lines or a JSON array,
plain or gzip-compressed."""

from __future__ import annotations

import csv
import gzip
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

DELIMITERS = ",;\t|"

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a long review is one field: the 128 KiB default rejects it


class TableError(ValueError):
    """A file or column problem, worded for the person who passed the file."""


def table_kind(path: str | Path) -> str:
    """"jsonl", "json", "tsv" or "csv", from the suffix (a trailing .gz is looked through)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".tsv": "tsv"}.get(suffix, "csv")


def _open_text(path: Path) -> IO[str]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a table file as dicts (CSV cells stay strings; empty cells become None)."""
    path = Path(path)
    kind = table_kind(path)
    try:
        with _open_text(path) as fh:
            if kind == "jsonl":
                return _read_jsonl(fh, path)
            if kind == "json":
                return _read_json_array(fh, path)
            return _read_csv(fh, "\t" if kind == "tsv" else None)
    except UnicodeDecodeError as exc:
        raise TableError(
            f"{path} is not UTF-8 text (byte {exc.start} cannot be read): save it as UTF-8 (plain or .gz)"
        ) from exc
    except (gzip.BadGzipFile, EOFError) as exc:
        raise TableError(f"{path} is not a complete gzip file: {exc}") from exc


def _read_jsonl(fh: IO[str], path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TableError(f"{path}:{number} is not JSON: {exc.msg} (column {exc.colno})") from exc
        if not isinstance(row, dict):
            raise TableError(f"{path}:{number} must be a JSON object")
        rows.append(row)
    return rows


def _read_json_array(fh: IO[str], path: Path) -> list[dict[str, Any]]:
    try:
        data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise TableError(f"{path}:{exc.lineno} is not JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise TableError(f"{path} must hold a JSON array of objects (or use JSON Lines, .jsonl: one per line)")
    return data


def _read_csv(fh: IO[str], delimiter: str | None) -> list[dict[str, Any]]:
    sample = fh.read(64 * 1024)
    fh.seek(0)
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
        except csv.Error:  # quoted newlines and ragged rows can defeat the sniffer: count in the header instead
            header = sample.splitlines()[0] if sample else ""
            delimiter = max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","
    reader = csv.DictReader(fh, delimiter=delimiter)
    # cells beyond the header (a ragged row) have no column name: they are not part of any column
    return [{k: (v if v != "" else None) for k, v in row.items() if k is not None} for row in reader]


def require_columns(rows: Sequence[dict[str, Any]], columns: Iterable[str | None], path: str | Path = "input") -> None:
    """Fail with the available column names when a named column is missing."""
    if not rows:
        raise TableError(f"{path} has no rows")
    available = list(dict.fromkeys(k for row in rows for k in row))  # JSON rows need not all have every key
    missing = [c for c in columns if c and c not in available]
    if missing:
        names = ", ".join(map(repr, missing))
        raise TableError(f"{path} has no column {names}; its columns are: {', '.join(available)}")
