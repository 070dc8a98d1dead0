"""Security properties of the read API, derived from the app itself (app.routes, its OpenAPI document), so a
route added later is covered without editing this file:

- no route accepts a write method (only GET/HEAD), and writes are answered 405 without touching the store;
- with API_TOKEN set every /api route needs ``Authorization: Bearer <token>`` (not a query parameter, not Basic);
  only the page, its static files, /health and the API description are open;
- every integer, string and list parameter is bounded (page sizes, id lengths, list lengths), and every
  since/until pair refuses ranges longer than the maximum;
- hostile ids and search strings (SQL and LIKE metacharacters, NUL) are 4xx or not found, never 500, and no SQL in
  ``insights/`` is built from strings;
- an unreachable database is a 503 without driver details.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from insights.api import create_api
from insights.settings import Settings
from insights.store import AlertRecord, FeedbackRecord, InsightStore, ThemeRecord, WindowCount, create_db_engine
from insights.store.sample import build_sample, load_sample
from streams.broker import free_port

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
OPEN_PATHS = {"/", "/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
OPEN_MOUNTS = {"/static"}
MAX_PAGE_LIMIT = 1_000  # no page may be larger than this, whatever the API's own maximum
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample():
    return build_sample(windows=12, items_per_window=60)


@pytest.fixture
def store(database_url: str, sample) -> Iterator[InsightStore]:
    s = InsightStore.from_url(database_url)
    load_sample(s, sample)
    yield s
    s.engine.dispose()


@pytest.fixture
def sqlite_store(sqlite_url: str, sample) -> Iterator[InsightStore]:
    s = InsightStore.from_url(sqlite_url)
    load_sample(s, sample)
    yield s
    s.engine.dispose()


@pytest.fixture
def client(sqlite_store: InsightStore) -> Iterator[TestClient]:
    with TestClient(create_api(Settings(api_token=TOKEN), sqlite_store)) as c:
        yield c


def _spec(client: TestClient) -> dict:
    return client.app.openapi()  # type: ignore[attr-defined]


def _param_schema(param: dict, spec: dict) -> dict:
    schema = param.get("schema", {})
    if "anyOf" in schema:
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _fill(path: str, spec: dict, sample) -> str:
    """A concrete URL for an OpenAPI path: enum params get their first value, ids one that exists."""
    known = {"theme_id": "rude", "alert_id": sample.alerts[0]["alert_id"] if sample.alerts else "a", "dimension":
             "agent_id"}
    params = {p["name"]: p for op in spec["paths"][path].values() for p in op.get("parameters", [])
              if p["in"] == "path"}

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name in known:
            return quote(known[name], safe="")
        schema = _param_schema(params[name], spec)
        return quote(str(schema["enum"][0]) if "enum" in schema else "x", safe="")

    return re.sub(r"\{([^}]+)\}", value, path)


def _operations(spec: dict) -> Iterator[tuple[str, str, dict]]:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield path, method, op


# -- read-only ----------------------------------------------------------------------------------------------
def _flat_routes(routes) -> Iterator[tuple[str, set[str] | None, str]]:
    """(path, methods, kind) of every route, included routers flattened (their representation changed across
    FastAPI versions: flattened APIRoutes before, an _IncludedRouter with effective_route_contexts since)."""
    for route in routes:
        if hasattr(route, "effective_route_contexts"):
            for ctx in route.effective_route_contexts():
                yield ctx.path, set(ctx.methods or ()), "route"
        elif isinstance(route, Mount):
            yield route.path, None, "mount"
        elif isinstance(route, APIRoute | Route):
            yield route.path, set(route.methods or ()), "route"
        else:
            yield getattr(route, "path", repr(route)), None, type(route).__name__


def test_no_route_accepts_a_write_method(client: TestClient) -> None:
    routes = list(_flat_routes(client.app.routes))  # type: ignore[attr-defined]
    for path, methods, kind in routes:
        if kind == "mount":
            assert path in OPEN_MOUNTS, f"unexpected mount {path}"
        else:
            assert kind == "route", f"unexpected {kind} at {path} (a websocket?)"
            assert methods and methods <= {"GET", "HEAD"}, (path, methods)
    assert sum(path.startswith("/api/") for path, _, _ in routes) >= 10
    for path, method, _op in _operations(_spec(client)):
        assert method in ("get", "head"), f"{method.upper()} {path}"


def test_write_requests_are_refused_and_change_nothing(client: TestClient, sqlite_store: InsightStore,
                                                       sample) -> None:
    before = [sqlite_store.count(m) for m in (FeedbackRecord, ThemeRecord, AlertRecord, WindowCount)]
    spec = _spec(client)
    urls = [_fill(p, spec, sample) for p in spec["paths"]] + ["/static/index.html", "/static/", "/api/feedback"]
    for url in urls:
        for method in WRITE_METHODS:
            response = client.request(method, url, headers=AUTH, json={"feedback_id": "x", "text": "y"})
            assert response.status_code in (404, 405), f"{method} {url}: {response.status_code}"
    assert [sqlite_store.count(m) for m in (FeedbackRecord, ThemeRecord, AlertRecord, WindowCount)] == before


# -- bearer token ------------------------------------------------------------------------------------------
def test_every_data_route_needs_the_bearer_token(client: TestClient, sample) -> None:
    spec = _spec(client)
    data_paths = [p for p in spec["paths"] if p not in OPEN_PATHS]
    assert all(p.startswith("/api/") for p in data_paths), "data outside /api would not be behind the token"
    for path, _methods, _kind in _flat_routes(client.app.routes):  # type: ignore[attr-defined]
        assert path.startswith("/api/") or path in OPEN_PATHS or path in OPEN_MOUNTS, f"unprotected route {path}"

    for path in data_paths:
        url = _fill(path, spec, sample)
        for headers, params in [
            ({}, {}),
            ({"Authorization": "Bearer wrong-token"}, {}),
            ({"Authorization": f"Bearer {TOKEN}x"}, {}),
            ({"Authorization": f"Bearer {TOKEN[:-1]}"}, {}),
            ({"Authorization": f"Basic {TOKEN}"}, {}),
            ({"Authorization": TOKEN}, {}),
            ({}, {"token": TOKEN, "access_token": TOKEN, "api_token": TOKEN}),
            ({"X-API-Token": TOKEN, "Cookie": f"token={TOKEN}"}, {}),
        ]:
            response = client.get(url, headers=headers, params=params)
            assert response.status_code == 401, f"{url} {headers} {params}: {response.status_code}"
            assert response.headers.get("www-authenticate", "").startswith("Bearer")
            assert TOKEN not in response.text
        ok = client.get(url, headers=AUTH)
        assert ok.status_code in (200, 404), f"{url}: {ok.status_code} {ok.text[:200]}"
        assert ok.headers.get("cache-control") == "no-store"


def test_open_routes_hold_no_data(client: TestClient, sample) -> None:
    quote_text = next(r["text"] for r in sample.feedback if len(r["text"]) > 30)
    for url in ("/", "/health", "/openapi.json", "/static/index.html"):
        response = client.get(url)
        assert response.status_code in (200, 404), url
        assert quote_text not in response.text
        assert not sample.alerts or sample.alerts[0]["alert_id"] not in response.text


def test_without_a_token_configured_the_api_is_open(sqlite_store: InsightStore) -> None:
    with TestClient(create_api(Settings(api_token=None), sqlite_store)) as c:
        assert c.get("/api/stats").status_code == 200


# -- bounded parameters ------------------------------------------------------------------------------------
def test_every_parameter_is_bounded(client: TestClient, sample) -> None:
    """Integers have a maximum (page sizes at most MAX_PAGE_LIMIT), strings a length or pattern, lists a length;
    one past each bound is refused (4xx)."""
    spec = _spec(client)
    for path, _method, op in _operations(spec):
        url = _fill(path, spec, sample)
        for param in op.get("parameters", []):
            if param["in"] != "query":
                continue
            name = param["name"]
            raw = param.get("schema", {})
            schema = _param_schema(param, spec)
            kind = schema.get("type")
            bad: list[object] = []
            if kind == "integer":
                assert "maximum" in schema, f"{path} ?{name} has no maximum"
                if name in ("limit", "page_size", "size"):
                    assert schema["maximum"] <= MAX_PAGE_LIMIT, f"{path} ?{name} allows {schema['maximum']}"
                bad = [schema["maximum"] + 1, -1 if schema.get("minimum", 0) >= 0 else None, "1e9", "9" * 40]
            elif kind == "string" and "enum" not in schema and schema.get("format") != "date-time":
                assert "maxLength" in schema or "pattern" in schema, f"{path} ?{name} is an unbounded string"
                bad = ["x" * 10_000]
            elif kind == "array" or any(s.get("type") == "array" for s in raw.get("anyOf", [])):
                array = schema if kind == "array" else next(s for s in raw["anyOf"] if s.get("type") == "array")
                assert "maxItems" in array, f"{path} ?{name} is an unbounded list"
                good = _param_schema({"schema": array.get("items", {})}, spec)
                item = str(good["enum"][0]) if "enum" in good else "rude"
                bad = [[item] * (array["maxItems"] + 1), ["x" * 10_000]]
            elif schema.get("format") == "date-time":
                bad = ["yesterday", "99999-01-01T00:00:00Z", "2026-13-40T25:61:00Z"]
            for value in bad:
                if value is None:
                    continue
                response = client.get(url, params={name: value}, headers=AUTH)
                assert 400 <= response.status_code < 500, (
                    f"{path} ?{name}={str(value)[:40]}: {response.status_code} {response.text[:200]}")


def test_time_ranges_are_bounded(client: TestClient, sample) -> None:
    spec = _spec(client)
    checked = 0
    for path, _method, op in _operations(spec):
        names = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        if not {"since", "until"} <= names:
            continue
        url = _fill(path, spec, sample)
        for since, until in [("2000-01-01T00:00:00Z", "2030-01-01T00:00:00Z"),  # decades
                             ("2026-03-02T00:00:00Z", "2026-03-01T00:00:00Z"),  # backwards
                             ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")]:
            response = client.get(url, params={"since": since, "until": until}, headers=AUTH)
            assert response.status_code in (400, 422), f"{path} {since}..{until}: {response.status_code}"
        checked += 1
    assert checked >= 5


def test_an_open_ended_range_is_capped(client: TestClient) -> None:
    response = client.get("/api/themes/top", params={"since": "2000-01-01T00:00:00Z"}, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    from datetime import datetime

    span = datetime.fromisoformat(body["until"].replace("Z", "+00:00")) - datetime.fromisoformat(
        body["since"].replace("Z", "+00:00"))
    assert span.days <= 366


# -- injection ---------------------------------------------------------------------------------------------
HOSTILE = ["' OR '1'='1", "rude' --", "rude\"; DROP TABLE feedback; --", "%", "_", "%%", "\\", "rude%", "r_de",
           "../../etc/passwd", "\u202erude", "ru\u0000de", "x" * 201, "${jndi:ldap://x}",
           "' UNION SELECT text FROM feedback --"]


def test_hostile_ids_and_searches_are_refused_or_not_found(store: InsightStore, sample) -> None:
    with TestClient(create_api(Settings(api_token=TOKEN), store), headers=AUTH) as client:
        feedback_before = store.count(FeedbackRecord)
        spec = _spec(client)
        id_paths = [p for p in spec["paths"] if "{theme_id}" in p or "{alert_id}" in p]
        assert id_paths
        for path in id_paths:
            for value in HOSTILE:
                url = path.replace("{theme_id}", quote(value, safe="")).replace("{alert_id}", quote(value, safe=""))
                response = client.get(url)
                assert response.status_code in (400, 404, 422), f"{url}: {response.status_code} {response.text[:200]}"
        for value in HOSTILE:
            for url, params in [("/api/themes", {"q": value}), ("/api/alerts", {"theme_id": value}),
                                ("/api/themes/top", {"dimension": "agent_id", "value": value}),
                                ("/api/alerts", {"dimension": "agent_id", "value": value})]:
                response = client.get(url, params=params)
                assert response.status_code in (200, 400, 422), f"{url} {params}: {response.status_code}"
                if response.status_code == 200:
                    body = response.json()
                    assert body.get("total", 0) == 0 and not body.get("items"), f"{url} {params} matched rows"
        assert store.count(FeedbackRecord) == feedback_before


def _sql_calls(tree: ast.AST) -> Iterator[ast.Call]:
    names = {"text", "exec_driver_sql", "literal_column", "execute", "executescript"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in names and node.args:
                yield node


def _built_from_strings(arg: ast.AST) -> bool:
    if isinstance(arg, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in arg.values)
    if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Add | ast.Mod):
        return True
    return isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr in ("format", "join")


def test_no_sql_is_built_from_strings() -> None:
    """Outside the migrations (fixed DDL), no SQL text in insights/ or streams/ is an f-string, a concatenation or
    a .format(): values are bound parameters of SQLAlchemy expressions."""
    offenders = []
    files = [p for d in ("insights", "streams") for p in (ROOT / d).rglob("*.py") if "migrations" not in p.parts]
    assert files
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for call in _sql_calls(tree):
            if _built_from_strings(call.args[0]):
                offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not offenders, "SQL built from strings: " + ", ".join(offenders)


# -- failures do not leak ------------------------------------------------------------------------------------
def test_an_unreachable_database_is_a_503_without_details() -> None:
    url = f"postgresql://nobody:pw@127.0.0.1:{free_port()}/nothing?connect_timeout=2"
    store = InsightStore(create_db_engine(url))
    with TestClient(create_api(Settings(api_token=TOKEN), store), headers=AUTH, raise_server_exceptions=False) as c:
        for url_path in ("/api/stats", "/api/themes", "/api/alerts"):
            response = c.get(url_path)
            assert response.status_code == 503, (url_path, response.status_code)
            text = response.text.lower()
            for leak in ("psycopg", "traceback", "127.0.0.1", "nobody", "connection refused", "sqlalchemy"):
                assert leak not in text, f"{url_path} leaks {leak!r}: {response.text[:200]}"
