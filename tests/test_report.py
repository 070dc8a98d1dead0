"""``insights report``: PNG charts and an HTML report from a real store (the simulated sample, on SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from insights.cli import main
from insights.store import InsightStore
from insights.store.sample import RISE_AGENT, build_sample, load_sample

PNG = b"\x89PNG\r\n\x1a\n"


def _report(sqlite_url: str, tmp_path) -> Path:
    """Run ``insights report`` over the sample's day and return its folder."""
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["report", "--since", "2026-03-01", "--out", str(out),
                                       "--database-url", sqlite_url])
    assert result.exit_code == 0, result.output
    return out


def test_report_writes_charts_and_html(sqlite_url: str, tmp_path) -> None:
    load_sample(InsightStore.from_url(sqlite_url), build_sample())
    out = _report(sqlite_url, tmp_path)
    for name in ("trends.png", "empathy.png", "heatmap.png", "agents.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, name
    page = (out / "report.html").read_text()
    assert "rude agent" in page and f"agent_id={RISE_AGENT}" in page and "critical" in page
    assert all(f'src="{n}"' in page for n in ("trends.png", "empathy.png", "heatmap.png", "agents.png"))
    data = json.loads((out / "data.json").read_text())
    assert data["total"] == len(build_sample().feedback) and data["top"][0]["theme_id"] == "praise"


def test_report_ranks_what_costs_the_score_most(sqlite_url: str, tmp_path) -> None:
    """The sample's complaint themes score lower than the rest; praise scores higher and costs nothing."""
    sample = build_sample()
    load_sample(InsightStore.from_url(sqlite_url), sample)
    out = _report(sqlite_url, tmp_path)
    data = json.loads((out / "data.json").read_text())
    assert data["scored"] == sum(f["score"] is not None for f in sample.feedback) > 0
    impact = data["impact"]
    assert len(impact) == 12  # twice --top (6)
    lost = [t["points_lost"] for t in impact]
    assert lost == sorted(lost, reverse=True) and lost[0] > 1.0
    assert impact[0]["significant"] and impact[0]["effect"] < 0 and impact[0]["mean_with"] < impact[0]["mean_without"]
    assert "praise" not in {t["theme_id"] for t in impact[:6]}
    assert (out / "impact.png").read_bytes().startswith(PNG)
    page = (out / "report.html").read_text()
    assert "What costs the score most" in page and 'src="impact.png"' in page
    assert impact[0]["label"] in page and "points higher" in page  # the plain-language sentence


def test_report_says_so_when_nothing_is_scored(sqlite_url: str, tmp_path) -> None:
    sample = build_sample()
    for f in sample.feedback:
        f["score"] = None
    load_sample(InsightStore.from_url(sqlite_url), sample)
    out = _report(sqlite_url, tmp_path)
    data = json.loads((out / "data.json").read_text())
    assert data["scored"] == 0 and data["impact"] == []
    assert not (out / "impact.png").exists()
    assert "no theme has 20 or more scored items in this period (0 scored in all)" in (out / "report.html").read_text()



def test_since_may_be_a_span_back_from_the_newest_data() -> None:
    from datetime import UTC, datetime

    from insights.commands.report import _parse_time

    newest = datetime(2026, 3, 2, 6, tzinfo=UTC)
    assert _parse_time("6h", newest, "--since") == datetime(2026, 3, 2, 0, tzinfo=UTC)
    assert _parse_time("2w", newest, "--since") == datetime(2026, 2, 16, 6, tzinfo=UTC)
    assert _parse_time("2026-03-01T12:00+02:00", newest, "--since") == datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_report_rejects_bad_times(sqlite_url: str, tmp_path) -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["report", "--since", "last tuesday", "--out", str(tmp_path), "--database-url",
                               sqlite_url])
    assert bad.exit_code == 2 and "--since" in bad.output
    backwards = runner.invoke(main, ["report", "--since", "2026-03-02", "--until", "2026-03-01", "--out",
                                     str(tmp_path), "--database-url", sqlite_url])
    assert backwards.exit_code == 2
    assert runner.invoke(main, ["report", "--help"]).exit_code == 0
