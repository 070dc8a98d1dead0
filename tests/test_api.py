"""The read API on SQLite and PostgreSQL: every endpoint, its filters and pages, bad parameters (400/422, never
500) and the bearer token (401). The store holds the simulated sample (insights/store/sample.py): 30 hourly
windows, 14 themes plus one merged away, a rise of rude complaints for agent a-03 that raised alerts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from insights.api import create_api
from insights.settings import Settings
from insights.store import InsightStore, create_db_engine
from insights.store.sample import RISE_AGENT, Sample, build_sample, load_sample
from tests.messages import coarse_group

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RANGE = {"since": "2026-03-01T00:00:00Z", "until": "2026-03-03T00:00:00Z"}


@pytest.fixture
def sample() -> Sample:
    return build_sample()


@pytest.fixture
def client(database_url: str, sample: Sample) -> Iterator[TestClient]:
    store = InsightStore.from_url(database_url)
    load_sample(store, sample)
    with TestClient(create_api(Settings(api_token=TOKEN), store), headers=AUTH) as c:
        yield c
    store.engine.dispose()


def _all(sample: Sample, theme: str, dimension: str = "__all__", value: str = "__all__") -> int:
    return sum(r["count"] for r in sample.window_counts
               if r["theme_id"] == theme and r["dimension"] == dimension and r["value"] == value)


def _status(client: TestClient, url: str, **kw) -> int:
    return client.get(url, **kw).status_code


# every GET route under /api with its path parameters filled in
API_URLS = [
    "/api/stats", "/api/themes", "/api/themes/top", "/api/themes/rude", "/api/themes/rude/trend", "/api/trends",
    "/api/empathy/share", "/api/dimensions/agent_id", "/api/dimensions/journey_stage/themes", "/api/heatmap",
    "/api/alerts", "/api/alerts/{alert_id}",
]
IMPACT_URLS = ["/api/impact/themes", "/api/interventions"]  # their content is tested in test_impact/interventions


def test_token_is_required_on_every_api_route(client: TestClient, sample: Sample) -> None:
    routes = {p for p in client.get("/openapi.json").json()["paths"] if p.startswith("/api")}
    listed = {u.replace("rude", "{theme_id}").replace("agent_id", "{dimension}").replace("journey_stage",
              "{dimension}") for u in API_URLS}
    assert routes == listed | set(IMPACT_URLS) | {"/api/interventions/{name}/analysis"}, "a new route: add it"
    alert_id = sample.alerts[0]["alert_id"]
    for url in [u.replace("{alert_id}", alert_id) for u in API_URLS] + IMPACT_URLS:
        assert _status(client, url) == 200, url
        assert _status(client, url, headers={"Authorization": ""}) == 401, url
        assert _status(client, url, headers={"Authorization": "Bearer wrong"}) == 401, url
        assert _status(client, url, headers={"Authorization": f"Basic {TOKEN}"}) == 401, url
    response = client.get("/api/themes", headers={"Authorization": ""})
    assert response.headers["www-authenticate"] == "Bearer"
    # health, the page and its static files need no token (they hold no data)
    for url in ("/health", "/", "/static/dashboard.js", "/docs", "/openapi.json"):
        assert _status(client, url, headers={"Authorization": ""}) == 200, url


def test_without_a_configured_token_the_api_is_open(database_url: str) -> None:
    with TestClient(create_api(Settings(api_token=None), InsightStore.from_url(database_url))) as c:
        assert c.get("/api/themes").status_code == 200
        assert c.get("/api/alerts").json()["items"] == []
        assert c.get("/api/themes/top").json()["items"] == []  # an empty store answers, with a default range


def test_themes_list_detail_and_lineage(client: TestClient) -> None:
    page = client.get("/api/themes", params={"limit": 5}).json()
    assert page["total"] == 14 and len(page["items"]) == 5
    sizes = [t["size"] for t in page["items"]]
    assert sizes == sorted(sizes, reverse=True)
    assert all(t["keywords"] and t["quotes"] for t in page["items"])
    rest = client.get("/api/themes", params={"limit": 200, "offset": 5}).json()
    assert len(rest["items"]) == 9 and not {t["theme_id"] for t in rest["items"]} & {t["theme_id"] for t in
                                                                                       page["items"]}
    everything = client.get("/api/themes", params={"status": "all", "limit": 200}).json()
    assert everything["total"] == 15
    merged = client.get("/api/themes", params={"status": "merged"}).json()["items"]
    assert [t["theme_id"] for t in merged] == ["slow_reply"]  # its merge event says so, as the model's do
    assert client.get("/api/themes", params={"status": "retired"}).json()["items"] == []
    empathy = client.get("/api/themes", params={"empathy_only": "true"}).json()["items"]
    assert {t["empathy_category"] for t in empathy} == {"rude", "robotic", "didnt_listen", "dismissive",
                                                        "no_follow_up", "rushed"}
    assert [t["label"] for t in client.get("/api/themes", params={"q": "RUDE"}).json()["items"]] == ["rude agent"]
    labels = [t["label"] for t in client.get("/api/themes", params={"sort": "label", "limit": 200}).json()["items"]]
    assert labels == sorted(labels)
    assert client.get("/api/themes", params={"q": "100%_"}).json()["total"] == 0  # LIKE wildcards are escaped

    theme = client.get("/api/themes/wait_time").json()
    assert theme["label"] == "long wait time"
    assert [e["event_type"] for e in theme["lineage"]] == ["birth", "merge", "rename"]
    merge = theme["lineage"][1]
    assert merge["theme_id"] == "slow_reply" and merge["related_theme_ids"] == ["wait_time"]
    assert len(theme["recent_feedback"]) == 5 and all(f["text"] for f in theme["recent_feedback"])
    assert client.get("/api/themes/wait_time", params={"quotes": 0}).json()["recent_feedback"] == []
    assert client.get("/api/themes/no-such-theme").status_code == 404

    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"offset": 10**9}, {"sort": "random"},
                {"status": "gone"}, {"level": "medium"}, {"empathy_only": "perhaps"}, {"q": "x" * 101}):
        assert _status(client, "/api/themes", params=bad) == 422, bad
    assert _status(client, "/api/themes/rude", params={"quotes": 21}) == 422
    assert _status(client, "/api/themes/" + "x" * 201) == 422


def test_theme_trend_and_trends(client: TestClient, sample: Sample) -> None:
    trend = client.get("/api/themes/rude/trend", params=RANGE).json()
    assert trend["label"] == "rude agent" and trend["empathy_category"] == "rude"
    assert len(trend["points"]) == 30
    assert sum(p["count"] for p in trend["points"]) == _all(sample, "rude")
    assert sum(p["total"] for p in trend["points"]) == _all(sample, "__all__")
    assert all(0 <= p["share"] < 1 for p in trend["points"])
    daily = client.get("/api/themes/rude/trend", params={**RANGE, "bucket": "1d"}).json()["points"]
    assert [p["start"] for p in daily] == ["2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"]
    assert sum(p["count"] for p in daily) == _all(sample, "rude")
    agent = client.get("/api/themes/rude/trend",
                       params={**RANGE, "dimension": "agent_id", "value": RISE_AGENT}).json()["points"]
    assert sum(p["count"] for p in agent) == _all(sample, "rude", "agent_id", RISE_AGENT)
    early = sum(p["count"] for p in agent[:12]) / max(1, sum(p["total"] for p in agent[:12]))
    late = sum(p["count"] for p in agent[12:]) / max(1, sum(p["total"] for p in agent[12:]))
    assert late > 2 * early  # the injected rise shows
    empathy = client.get("/api/themes/__empathy__/trend", params=RANGE).json()
    assert sum(p["count"] for p in empathy["points"]) == _all(sample, "__empathy__")
    narrow = client.get("/api/themes/rude/trend", params={"since": "2026-03-01T05:00:00Z",
                                                          "until": "2026-03-01T08:00:00Z"}).json()["points"]
    assert [p["start"][11:16] for p in narrow] == ["05:00", "06:00", "07:00"]
    default = client.get("/api/themes/rude/trend").json()  # the last 7 days of data
    assert default["until"] == "2026-03-02T06:00:00Z" and len(default["points"]) == 30

    top = client.get("/api/trends", params={**RANGE, "top": 3}).json()["series"]
    assert len(top) == 3 and top[0]["theme_id"] == "praise"
    named = client.get("/api/trends", params=[("theme_id", "rude"), ("theme_id", "robotic")]).json()["series"]
    assert [s["label"] for s in named] == ["rude agent", "robotic / scripted"]
    assert client.get("/api/themes/top", params={**RANGE, "limit": 1}).json()["items"][0]["theme_id"] == "praise"
    agent_top = client.get("/api/themes/top", params={**RANGE, "dimension": "agent_id", "value": RISE_AGENT,
                                                      "empathy_only": True}).json()
    assert agent_top["items"][0]["theme_id"] == "rude"

    assert _status(client, "/api/themes/nope/trend") == 404
    for bad in ({"bucket": "5x"}, {"bucket": "0h"}, {"since": "yesterday"}, {"until": "2026-13-01"},
                {"dimension": "planet", "value": "x"}, {"value": "a\x00b", "dimension": "agent_id"}):
        assert _status(client, "/api/themes/rude/trend", params=bad) == 422, bad
    for bad in ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
                {"since": "2020-01-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, {"dimension": "agent_id"},
                {"value": "a-01"}, {"bucket": "32d"}, {"until": "0001-01-02T00:00:00Z"},
                {"since": "9999-12-31T00:00:00Z"}):
        assert _status(client, "/api/themes/rude/trend", params=bad) == 400, bad
    assert _status(client, "/api/trends", params={"top": 11}) == 422
    assert _status(client, "/api/trends", params=[("theme_id", str(i)) for i in range(11)]) == 422
    assert _status(client, "/api/trends", params={"theme_id": "bad\x01id"}) == 422
    assert _status(client, "/api/themes/top", params={"limit": 51}) == 422


def test_empathy_share(client: TestClient, sample: Sample) -> None:
    share = client.get("/api/empathy/share", params=RANGE).json()["points"]
    assert sum(p["count"] for p in share) == _all(sample, "__empathy__")
    assert all(p["share"] == round(p["count"] / p["total"], 6) for p in share)
    agent = client.get("/api/empathy/share", params={**RANGE, "dimension": "agent_id", "value": RISE_AGENT,
                                                     "bucket": "1d"}).json()["points"]
    assert sum(p["count"] for p in agent) == _all(sample, "__empathy__", "agent_id", RISE_AGENT)
    nobody = client.get("/api/empathy/share", params={**RANGE, "dimension": "agent_id", "value": "nobody"})
    assert nobody.status_code == 200 and nobody.json()["points"] == []
    assert _status(client, "/api/empathy/share", params={"dimension": "agent_id"}) == 400
    assert _status(client, "/api/empathy/share", params={"bucket": "1y"}) == 422


def test_breakdowns_by_agent_team_stage_channel(client: TestClient, sample: Sample) -> None:
    for dimension in ("agent_id", "team", "journey_stage", "channel"):
        values = client.get(f"/api/dimensions/{dimension}", params={**RANGE, "limit": 200}).json()
        assert values["total"] == len(values["items"]) > 0
        expected = Counter({r["value"]: 0 for r in sample.window_counts if r["dimension"] == dimension})
        for r in sample.window_counts:
            if r["dimension"] == dimension and r["theme_id"] == "__all__":
                expected[r["value"]] += r["count"]
        assert {v["value"]: v["total"] for v in values["items"]} == dict(expected)
        themes = client.get(f"/api/dimensions/{dimension}/themes", params={**RANGE, "top": 3}).json()
        assert all(len(v["themes"]) <= 3 for v in themes["items"])
        assert all(v["themes"][0]["count"] >= v["themes"][-1]["count"] for v in themes["items"])
    page = client.get("/api/dimensions/agent_id/themes", params={**RANGE, "limit": 5, "offset": 5}).json()
    assert page["total"] == 12 and len(page["items"]) == 5
    by_rude = client.get("/api/dimensions/agent_id/themes", params={**RANGE, "theme_id": "rude", "limit": 3}).json()
    assert by_rude["items"][0]["value"] == RISE_AGENT and by_rude["items"][0]["themes"][0]["theme_id"] == "rude"
    empathy = client.get("/api/dimensions/agent_id/themes", params={**RANGE, "empathy_only": True, "top": 1})
    assert all(v["themes"][0]["empathy_category"] for v in empathy.json()["items"])

    heat = client.get("/api/heatmap", params={**RANGE, "themes": 4}).json()
    assert heat["dimension"] == "journey_stage" and len(heat["themes"]) == 4
    assert set(heat["values"]) == {"onboarding", "purchase", "delivery", "billing", "support", "cancellation"}
    assert len(heat["shares"]) == 4 and all(len(row) == len(heat["values"]) for row in heat["shares"])
    channel = client.get("/api/heatmap", params={**RANGE, "dimension": "channel"}).json()
    assert "phone" in channel["values"]

    assert _status(client, "/api/dimensions/planet") == 422
    assert _status(client, "/api/dimensions/agent_id", params={"limit": 500}) == 422
    assert _status(client, "/api/dimensions/agent_id/themes", params={"top": 0}) == 422
    assert _status(client, "/api/heatmap", params={"themes": 31}) == 422
    assert _status(client, "/api/heatmap", params={"since": "2026-03-02", "until": "2026-03-01"}) == 400


def test_alerts_filters_pages_and_detail(client: TestClient, sample: Sample) -> None:
    page = client.get("/api/alerts").json()
    assert page["total"] == len(sample.alerts) >= 1
    first = page["items"][0]
    for key in ("alert_id", "theme_label", "dimensions", "observed", "expected", "ratio", "p_value", "severity",
                "window_start", "window_end", "quotes", "explanation"):
        assert key in first, key
    ends = [a["window_end"] for a in page["items"]]
    assert ends == sorted(ends, reverse=True)
    agent = client.get("/api/alerts", params={"dimension": "agent_id", "value": RISE_AGENT}).json()["items"]
    assert agent and all(a["dimensions"] == {"agent_id": RISE_AGENT} for a in agent)
    assert client.get("/api/alerts", params={"dimension": "agent_id", "value": "a-99"}).json()["total"] == 0
    any_agent = client.get("/api/alerts", params={"dimension": "agent_id"}).json()["items"]
    assert all("agent_id" in a["dimensions"] for a in any_agent)
    whole = client.get("/api/alerts", params={"dimension": "__all__"}).json()["items"]
    assert all(a["dimensions"] == {} for a in whole)
    severities = Counter(a["severity"] for a in sample.alerts)
    for sev, n in severities.items():
        assert client.get("/api/alerts", params={"severity": sev}).json()["total"] == n
    assert client.get("/api/alerts", params={"min_severity": "low"}).json()["total"] == len(sample.alerts)
    assert client.get("/api/alerts", params={"theme_id": "rude"}).json()["total"] == sum(
        a["theme_id"] == "rude" for a in sample.alerts)
    assert client.get("/api/alerts", params={"since": "2026-03-05T00:00:00Z"}).json()["total"] == 0
    assert client.get("/api/alerts", params={"until": "2026-03-01T01:00:00Z"}).json()["total"] == 0
    assert client.get("/api/alerts", params={"created_after": "2100-01-01T00:00:00Z"}).json()["total"] == 0
    one = client.get("/api/alerts", params={"limit": 1, "offset": 1}).json()
    assert one["limit"] == 1 and len(one["items"]) == min(1, len(sample.alerts) - 1)

    detail = client.get(f"/api/alerts/{first['alert_id']}").json()
    assert detail["alert_id"] == first["alert_id"] and detail["explanation"]
    assert _status(client, "/api/alerts/not-an-alert") == 404

    for bad in ({"severity": "apocalyptic"}, {"min_severity": "meh"}, {"dimension": "planet"}, {"limit": 0},
                {"limit": 1000}, {"since": "not a time"}, {"value": "\x00"}, {"empathy_only": "2"}):
        assert _status(client, "/api/alerts", params=bad) == 422, bad
    for bad in ({"value": RISE_AGENT}, {"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
                {"since": "2000-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
                {"dimension": "__all__", "value": "x"}):
        assert _status(client, "/api/alerts", params=bad) == 400, bad


def test_stats_docs_and_read_only(client: TestClient, sample: Sample) -> None:
    stats = client.get("/api/stats").json()
    assert stats["feedback"] == len(sample.feedback) and stats["themes"] == 15
    assert stats["alerts"] == len(sample.alerts)
    assert stats["first_window"] == "2026-03-01T00:00:00Z" and stats["last_window_end"] == "2026-03-02T06:00:00Z"
    spec = client.get("/openapi.json").json()
    assert {"/api/themes", "/api/themes/{theme_id}/trend", "/api/alerts", "/api/heatmap"} <= set(spec["paths"])
    assert all(set(ops) == {"get"} for ops in spec["paths"].values())
    assert client.get("/docs").status_code == 200
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/api/themes").status_code == 405
    assert client.get("/api/themes").headers["cache-control"] == "no-store"


NASTY = ["", "%", "' OR 1=1 --", "\u00e9\u4e2d\U0001F600", "a" * 201, "\x00", "-1", "9" * 40, "2026-02-30",
         "+10000-01-01"]


def test_nasty_parameters_are_never_a_500(client: TestClient) -> None:
    """Whatever comes in a query or path: 200, 400, 404 or 422 (each route's own parameters, from OpenAPI)."""
    spec = client.get("/openapi.json").json()["paths"]
    for path, ops in spec.items():
        if not path.startswith("/api"):
            continue
        url = path.replace("{theme_id}", "rude").replace("{dimension}", "agent_id").replace("{alert_id}", "x")
        for name in [p["name"] for p in ops["get"].get("parameters", []) if p["in"] == "query"]:
            for bad in NASTY:
                status = _status(client, url, params={name: bad})
                assert status in (200, 400, 404, 422), (url, name, bad, status)
    for bad in NASTY[1:]:
        for template in ("/api/themes/{}", "/api/themes/{}/trend", "/api/alerts/{}", "/api/dimensions/{}"):
            status = _status(client, template.format(quote(bad, safe="")))
            assert status in (200, 400, 404, 422), (template, bad, status)


def test_an_unreachable_store_is_503_not_500() -> None:
    store = InsightStore(create_db_engine("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2"))
    with TestClient(create_api(Settings(api_token=None), store), raise_server_exceptions=False) as c:
        assert c.get("/health").status_code == 200
        response = c.get("/api/themes")
        assert response.status_code == 503 and "unavailable" in response.json()["detail"]


def test_an_empathy_category_trend_is_served_under_the_id_its_alerts_use(client: TestClient) -> None:
    body = client.get("/api/themes/__empathy__:rude/trend", params={"bucket": "1d"}).json()
    assert body["empathy_category"] == "rude" and body["label"] == "rude complaints (all themes)"
    assert sum(p["count"] for p in body["points"]) > 0


def test_rankings_list_themes_not_the_empathy_category_counts(client: TestClient, sample: Sample) -> None:
    """``__empathy__:rude`` counts items already counted in their themes: listed beside them, the same complaints
    showed twice ("rude agent 18%" next to "__empathy__:rude 18%" for the agent with the injected rise)."""
    categories = {r["theme_id"] for r in sample.window_counts if r["theme_id"].startswith("__empathy__:")}
    assert "__empathy__:rude" in categories  # the sample has them, so the checks below can fail

    def ids(items: list[dict]) -> set[str]:
        return {t["theme_id"] for t in items}

    top = client.get("/api/themes/top", params={**RANGE, "limit": 50}).json()["items"]
    assert len(top) == 14 and not ids(top) & categories
    heat = client.get("/api/heatmap", params={**RANGE, "themes": 30}).json()
    assert not ids(heat["themes"]) & categories and not any(t["label"].startswith("__") for t in heat["themes"])
    agents = client.get("/api/dimensions/agent_id/themes", params={**RANGE, "top": 20, "limit": 50}).json()["items"]
    assert agents and not any(ids(a["themes"]) & categories for a in agents)
    rise = next(a for a in agents if a["value"] == RISE_AGENT)
    assert [t["theme_id"] for t in rise["themes"][:2]] == ["praise", "rude"]
    trends = client.get("/api/trends", params={**RANGE, "top": 10}).json()["series"]
    assert not ids(trends) & categories
    # asked for by id (as an alert on a category links to it), a category keeps the name its alerts use
    by_category = client.get("/api/dimensions/agent_id/themes",
                             params={**RANGE, "theme_id": "__empathy__:rude", "limit": 1}).json()["items"]
    assert by_category[0]["value"] == RISE_AGENT
    assert by_category[0]["themes"][0]["label"] == "rude complaints (all themes)"


def test_a_coarse_themes_trend_is_the_sum_of_its_members(database_url: str, sample: Sample) -> None:
    """Coarse themes alert as the sum of their members and have no window counts of their own: the trend an alert
    on one links to must add its members' up, not show zeros."""
    store = InsightStore.from_url(database_url)
    load_sample(store, sample)

    store.apply_theme_events(coarse_group("c-service", ["rude", "robotic"]))
    with TestClient(create_api(Settings(api_token=TOKEN), store), headers=AUTH) as c:
        body = c.get("/api/themes/c-service/trend", params={**RANGE, "bucket": "1d"}).json()
        rude = c.get("/api/themes/rude/trend", params={**RANGE, "bucket": "1d"}).json()
        both = c.get("/api/trends", params={**RANGE, "theme_id": ["c-service", "rude"], "bucket": "1d"}).json()
    expected = _all(sample, "rude") + _all(sample, "robotic")
    assert _all(sample, "rude") and _all(sample, "robotic")
    assert sum(p["count"] for p in body["points"]) == expected and body["label"] == "c-service label"
    assert sum(p["count"] for p in rude["points"]) == _all(sample, "rude")
    counts = {s["theme_id"]: sum(p["count"] for p in s["points"]) for s in both["series"]}
    assert counts == {"c-service": expected, "rude": _all(sample, "rude")}
    store.engine.dispose()
