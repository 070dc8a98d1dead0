"""``insights discover`` end to end on a small real file (CSV and JSONL), with the real embedding model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from insights.commands.discover import command

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77" / "test.csv"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="no Banking77 data")


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with DATA.open(newline="", encoding="utf-8") as fh:
        all_rows = list(csv.DictReader(fh))
    return [{"fid": f"f{i}", **r} for i, r in enumerate(all_rows[:240])]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Shared by both formats, so the second run reads the embeddings the first one cached there."""
    return tmp_path_factory.mktemp("discover")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_discover_writes_one_row_per_input_row(tmp_path, workdir, rows, fmt, monkeypatch):
    monkeypatch.chdir(workdir)  # the embedding cache goes to workdir/.cache
    src = tmp_path / f"in.{fmt}"
    if fmt == "csv":
        with src.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["fid", "text", "category"])
            writer.writeheader()
            writer.writerows(rows)
    else:
        src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        command, [str(src), "--text-column", "text", "--id-column", "fid", "--output", str(out), "--top", "5"]
    )
    assert result.exit_code == 0, result.output
    assert "fine themes" in result.output and "label" in result.output
    with out.open(newline="", encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert [r["id"] for r in got] == [r["fid"] for r in rows]
    assert {"id", "theme_id", "theme_label", "empathy_category"} <= set(got[0])
    assigned = [r for r in got if r["theme_id"]]
    assert len(assigned) >= 0.9 * len(got)
    assert all(r["theme_label"] for r in assigned)
    assert all(not r["theme_label"] for r in got if not r["theme_id"])


def test_unknown_column_is_a_usage_error(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,2\n", encoding="utf-8")
    result = CliRunner().invoke(command, [str(src), "--text-column", "comment"])
    assert result.exit_code == 2 and "comment" in result.output


def test_real_world_mess_blank_repeated_broken_and_missing_ids(tmp_path, workdir, rows, monkeypatch):
    """What survey exports hold: blank answers, one answer given hundreds of times, a broken character, an
    endless token, rows without an id. Blanks stay unassigned, copies share one theme, labels stay short."""
    monkeypatch.chdir(workdir)
    mess = [{"fid": r["fid"], "text": r["text"]} for r in rows]
    mess += [{"fid": f"same{i}", "text": "The app keeps crashing" if i % 2 else "the app  keeps crashing"}
             for i in range(300)]
    mess += [{"fid": f"blank{i}", "text": t} for i, t in enumerate(["", "   ", "\n", None] * 5)]
    mess += [{"fid": f"pii{i}", "text": f"Card declined again. Call 555-013-{i:04d} or mail jo.doe{i}@example.org"}
             for i in range(12)]
    mess += [{"text": "my card \ud83d was declined"}, {"fid": "long", "text": "z" * 5_000},
             {"fid": "review", "text": " ".join(r["text"] for r in rows[:40])}]
    src = tmp_path / "mess.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in mess), encoding="utf-8")
    out, themes = tmp_path / "out.csv", tmp_path / "new" / "dir" / "themes.jsonl"
    result = CliRunner().invoke(command, [str(src), "--id-column", "fid", "--output", str(out),
                                          "--themes-output", str(themes)])
    assert result.exit_code == 0, result.output
    assert "20 without text stay unassigned" in result.output
    assert "1 rows have no 'fid'" in result.output
    assert "texts are longer than the model reads (256 tokens)" in result.output
    with out.open(newline="", encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert len(got) == len(mess)
    by_id = {r["id"]: r for r in got}
    assert all(not by_id[f"blank{i}"]["theme_id"] for i in range(20))
    assert len({by_id[f"same{i}"]["theme_id"] for i in range(300)}) == 1 and by_id["same0"]["theme_id"]
    assert by_id[str(len(mess) - 3)]["theme_id"]  # the row without an id has its row number, and a theme
    assert max(len(r["theme_label"]) for r in got) <= 100
    assert themes.exists() and themes.read_text(encoding="utf-8").count("\n") >= 2
    told = result.output + themes.read_text(encoding="utf-8")  # redacted as the stream would: no contact details
    assert by_id["pii0"]["theme_id"] and "example.org" not in told and "555-013" not in told


def test_top_must_be_positive(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("text\nhello\n", encoding="utf-8")
    assert CliRunner().invoke(command, [str(src), "--top", "0"]).exit_code == 2
