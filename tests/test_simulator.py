"""The simulator: schema-valid wire messages, varied wording, known truth, injected rises, a simulated clock."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from insights.simulator import THEMES, FeedbackSimulator, Injection, Intervention

T0 = datetime(2024, 5, 1, tzinfo=UTC)
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
SURVEY_FIELDS = {
    "schema_version", "response_id", "survey_type", "score", "comment", "agent_id", "team", "journey_stage",
    "channel", "customer_id", "ticket_id", "responded_at", "language",
}  # fmt: skip
REVIEW_FIELDS = {
    "schema_version", "review_id", "source", "rating", "title", "body", "product", "agent_id", "team",
    "journey_stage", "channel", "published_at", "language",
}  # fmt: skip


@pytest.fixture(scope="module")
def items():
    return FeedbackSimulator(seed=5, start=T0, items_per_window=200, window="1h").generate(3000)


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.v1.json").read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_messages_follow_the_wire_schemas_with_the_truth_kept_outside(items):
    survey, review = validator("survey_response"), validator("review")
    kinds = Counter(item.kind for item in items)
    assert kinds["survey"] > kinds["review"] > 0
    for item in items:
        message = json.loads(json.dumps(item.message))
        if item.kind == "survey":
            survey.validate(message)
            assert set(message) == SURVEY_FIELDS
        else:
            review.validate(message)
            assert set(message) == REVIEW_FIELDS
        assert not {"truth", "is_injected", "theme"} & set(message)


def test_wording_varies_like_real_feedback(items):
    texts = Counter(item.text for item in items)
    assert len(texts) > 0.6 * len(items)  # mostly distinct sentences
    assert len(THEMES) >= 12 and len({item.truth for item in items}) >= 12
    for short in ("great", "N/A", "rude agent"):
        assert texts[short] >= 2  # the exact short answers surveys are full of
    rude = {item.text for item in items if item.truth == "rude"}
    assert len(rude) > 40


def test_a_second_remark_is_part_of_the_truth(items):
    """ "Late again. Also, the rep was rude." names an empathy problem though its main theme is delivery."""
    by_key = {t.key: t for t in THEMES}
    with_remark = [i for i in items if i.also]
    assert 0.03 * len(items) < len(with_remark) < 0.12 * len(items)
    for i in with_remark:
        assert re.search(r"\b(also|laso|aslo|alos), ", i.text.lower()) and i.also != i.truth  # typos swap letters
        assert by_key[i.also].tone == by_key[i.truth].tone
        expected = {by_key[i.truth].empathy, by_key[i.also].empathy} - {None}
        assert i.empathy_categories == expected
    hidden = [i for i in with_remark if i.empathy_category is None and i.empathy_categories]
    assert hidden, "no non-empathy complaint with an empathy remark tacked on"
    assert all(i.empathy_categories == ({i.empathy_category} - {None}) for i in items if not i.also)


def test_dimensions_cover_agents_teams_stages_and_channels(items):
    surveys = [i.message for i in items if i.kind == "survey"]
    assert len({m["agent_id"] for m in surveys}) == 12
    assert len({m["team"] for m in surveys}) == 3
    assert {m["journey_stage"] for m in surveys} >= {"onboarding", "billing", "delivery", "cancellation"}
    assert {m["channel"] for m in surveys} == {"phone", "chat", "email"}
    assert {i.message["source"] for i in items if i.kind == "review"} == {"app_store", "google_play", "trustpilot"}
    teams = {}
    for m in surveys:
        teams.setdefault(m["agent_id"], set()).add(m["team"])
    assert all(len(t) == 1 for t in teams.values())  # an agent belongs to one team


def test_same_seed_same_stream_other_seed_other_stream():
    first = [i.message for i in FeedbackSimulator(seed=1, start=T0).generate(50)]
    again = [i.message for i in FeedbackSimulator(seed=1, start=T0).generate(50)]
    other = [i.message for i in FeedbackSimulator(seed=2, start=T0).generate(50)]
    assert first == again
    assert first != other


def test_the_clock_advances_by_the_window_over_items_per_window(items):
    span = items[-1].event_time - items[0].event_time
    assert span / timedelta(hours=1) == pytest.approx(3000 / 200, rel=0.1)
    assert all(a.event_time <= b.event_time for a, b in zip(items, items[1:], strict=False))


def test_late_arrivals_carry_an_earlier_event_time():
    sim = FeedbackSimulator(seed=3, start=T0, late_share=0.2, max_lateness="30m")
    items = sim.generate(500)
    out_of_order = sum(a.event_time > b.event_time for a, b in zip(items, items[1:], strict=False))
    assert out_of_order > 20


def test_an_injection_multiplies_the_slice_rate_only_inside_its_window():
    rise = Injection("rude", 2.0, T0 + timedelta(hours=2), T0 + timedelta(hours=4), {"agent_id": "a-03"})
    sim = FeedbackSimulator(seed=4, start=T0, injections=[rise])
    dims = {"agent_id": "a-03", "team": sim.team_of["a-03"], "journey_stage": "support", "channel": "chat"}
    before = sim.theme_rates(T0 + timedelta(hours=1), dims)
    during = sim.theme_rates(T0 + timedelta(hours=3), dims)
    after = sim.theme_rates(T0 + timedelta(hours=5), dims)
    other = sim.theme_rates(T0 + timedelta(hours=3), {**dims, "agent_id": "a-04"})
    assert during["rude"] == pytest.approx(2 * before["rude"])
    assert sum(during.values()) == pytest.approx(1.0)
    assert after == before
    assert other["rude"] < during["rude"] / 1.5


def test_injected_items_are_marked_and_the_count_rises():
    rise = Injection("rude", 3.0, T0 + timedelta(hours=5), T0 + timedelta(hours=10), {"team": "care-east"})
    sim = FeedbackSimulator(seed=9, start=T0, items_per_window=400, injections=[rise])
    items = list(sim.until(T0 + timedelta(hours=10)))
    in_slice = [i for i in items if i.message.get("team") == "care-east" and i.truth == "rude"]
    before = sum(i.event_time < rise.start for i in in_slice)
    during = len(in_slice) - before
    assert during > 2.2 * before  # same length of time, three times the rate
    injected = [i for i in items if i.is_injected]
    assert injected and all(i.event_time >= rise.start and i.truth == "rude" for i in injected)
    assert all(i.message["team"] == "care-east" for i in injected)


def test_an_intervention_lowers_a_team_rate_from_its_date():
    coaching = Intervention("rude", 0.5, T0 + timedelta(days=1), {"team": "care-west"})
    sim = FeedbackSimulator(seed=4, start=T0, injections=[coaching])
    agent = next(a for a, t in sim.team_of.items() if t == "care-west")
    dims = {"agent_id": agent, "team": "care-west", "journey_stage": "support", "channel": "phone"}
    assert sim.theme_rates(T0 + timedelta(days=2), dims)["rude"] == pytest.approx(
        0.5 * sim.theme_rates(T0, dims)["rude"]
    )


def test_unknown_theme_weights_are_refused():
    with pytest.raises(ValueError, match="unknown themes"):
        FeedbackSimulator(theme_weights={"rudeness": 1.0})
