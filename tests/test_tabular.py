"""Reading the tables people export: delimiters, quoting, compression, JSON shapes and encodings."""

from __future__ import annotations

import gzip
import json

import pytest

from insights.tabular import TableError, read_table, require_columns


def test_semicolon_csv_with_quoted_newlines_and_a_bom(tmp_path):
    src = tmp_path / "reviews.csv"
    src.write_text('\ufeffreview_id;review_body;stars\n1;"Slow; then\nrude";2\n2;fine;5\n', encoding="utf-8")
    rows = read_table(src)
    assert rows == [{"review_id": "1", "review_body": "Slow; then\nrude", "stars": "2"},
                    {"review_id": "2", "review_body": "fine", "stars": "5"}]


def test_tsv_gzip_and_ragged_rows(tmp_path):
    src = tmp_path / "export.tsv.gz"
    with gzip.open(src, "wt", encoding="utf-8") as fh:
        fh.write("id\ttext\n1\tcalled twice\textra cell\n2\t\n")
    assert read_table(src) == [{"id": "1", "text": "called twice"}, {"id": "2", "text": None}]


def test_a_field_longer_than_the_csv_default_limit_is_read(tmp_path):
    src = tmp_path / "long.csv"
    src.write_text("id,text\n1," + "a" * 200_000 + "\n", encoding="utf-8")
    assert len(read_table(src)[0]["text"]) == 200_000


def test_json_lines_with_a_bom_compressed_and_json_arrays(tmp_path):
    rows = [{"id": 1, "text": "no call back"}, {"id": 2, "meta": {"x": 1}}]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text("\ufeff" + "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert read_table(jsonl) == rows
    gz = tmp_path / "a.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))
    assert read_table(gz) == rows
    array = tmp_path / "a.json"
    array.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    assert read_table(array) == rows
    require_columns(rows[1:] + rows[:1], ["text", "meta"], array)  # a key missing from the first row is fine


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("latin1.csv", "id,text\n1,caf\xe9 was cold\n".encode("latin-1"), "not UTF-8"),
        ("broken.csv.gz", b"\x1f\x8b\x08\x00broken", "gzip"),
        ("object.json", b'{"text": "one"}', "array of objects"),
        ("bad.jsonl", b'{"text": "ok"}\n{"text": \n', "bad.jsonl:2"),
    ],
)
def test_unreadable_files_say_what_to_do(tmp_path, name, content, says):
    src = tmp_path / name
    src.write_bytes(content)
    with pytest.raises(TableError, match=says):
        read_table(src)


def test_a_missing_column_lists_the_columns_there_are(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("review_id,review_body\n1,x\n", encoding="utf-8")
    with pytest.raises(TableError, match="review_id, review_body"):
        require_columns(read_table(src), ["text"], src)
