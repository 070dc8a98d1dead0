"""What `insights demo` prints: alerts as JSON lines on stdout, never glued to the progress bar on stderr."""

from __future__ import annotations

import io
import json
import sys

from tqdm import tqdm

from streams.demo import print_alert


def test_an_alert_starts_a_line_of_its_own_while_the_progress_bar_runs(monkeypatch):
    screen = io.StringIO()  # a terminal shows stdout and stderr on one screen
    monkeypatch.setattr(sys, "stdout", screen)
    monkeypatch.setattr(sys, "stderr", screen)
    bar = tqdm(total=180, desc="demo", file=sys.stderr, bar_format="{desc} {bar} {n:.0f}/{total}s{postfix}")
    bar.n = 48
    bar.refresh()
    alert = {"alert_id": "a1", "theme_label": "rude, attitude", "dimensions": {"agent_id": "a-07"}}
    print_alert(alert)
    bar.close()

    lines = screen.getvalue().split("\n")
    shown = [line.rsplit("\r", 1)[-1] for line in lines]  # what a terminal leaves visible after carriage returns
    assert json.dumps(alert, ensure_ascii=False) in shown
    assert json.loads(shown[shown.index(json.dumps(alert, ensure_ascii=False))]) == alert
