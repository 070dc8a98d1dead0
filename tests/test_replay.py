"""The backtest: the stream's code over a historic file finds an injected rise and does not flood."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from insights.cli import main
from insights.schemas import first_error
from insights.simulator import FeedbackSimulator, Injection

pytestmark = pytest.mark.slow

START = datetime(2026, 2, 1, tzinfo=UTC)
RISE_AT = START + timedelta(hours=16)


def write_history(path, rows: int = 2400) -> None:
    """A survey export as a CX team would have it: its own column names, one row per response."""
    sim = FeedbackSimulator(
        seed=21, agents=4, start=START, items_per_window=100, window="1h", review_share=0.0,
        injections=[Injection(theme="rude", multiplier=8.0, start=RISE_AT, dimensions={"agent_id": "a-03"})],
    )
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["response", "submitted", "agent", "team", "stage", "ref"])
        for item in sim.generate(rows):
            m = item.message
            writer.writerow([m["comment"], m["responded_at"], m["agent_id"], m["team"], m["journey_stage"],
                             m["response_id"]])


def test_replay_raises_the_injected_rise_without_flooding(tmp_path):
    source = tmp_path / "history.csv"
    write_history(source)
    alerts_out, assignments_out = tmp_path / "alerts.jsonl", tmp_path / "assignments.csv"
    result = CliRunner().invoke(main, [
        "replay", str(source), "--time-column", "submitted", "--text-column", "response", "--id-column", "ref",
        "--dimension", "agent_id=agent", "--dimension", "team=team", "--dimension", "journey_stage=stage",
        "--window", "1h", "--alerts-out", str(alerts_out), "--assignments-out", str(assignments_out),
    ])
    assert result.exit_code == 0, result.output

    with assignments_out.open(encoding="utf-8") as fh:
        assignments = list(csv.DictReader(fh))
    assert len(assignments) == 2400
    assert {"id", "theme_id", "theme_label", "empathy_category"} <= set(assignments[0])
    assert sum(1 for a in assignments if not a["theme_id"]) <= 0.1 * len(assignments)

    alerts = [json.loads(line) for line in alerts_out.read_text(encoding="utf-8").splitlines()]
    for alert in alerts:
        assert first_error("alert", alert) is None
    on_agent = [a for a in alerts if a["dimensions"].get("agent_id") == "a-03"
                and (a.get("empathy_category") in ("rude", "all") or "rude" in (a.get("theme_label") or ""))]
    seen = [(a["theme_label"], a["dimensions"]) for a in alerts]
    assert on_agent, f"no alert for a-03's rude complaints among {seen}"
    first = min(datetime.fromisoformat(a["window_start"]) for a in on_agent)
    assert RISE_AT <= first <= RISE_AT + timedelta(hours=3)
    assert len(alerts) <= 15, "the replay floods"
