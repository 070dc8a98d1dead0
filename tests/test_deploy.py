"""The deployment files: docker-compose.yml, deploy/Dockerfile, deploy/k8s/ and deploy/grafana/.

There is no container engine or cluster here, so each file is checked the way its consumer reads it, offline:
the compose file's structure (and the real Compose loader when one is installed), the Dockerfile through
BuildKit's own parser (the ``dockerfile`` package), every Kubernetes object against the API's JSON Schema
(``kubernetes-validate``, strict: unknown fields fail), the Grafana dashboard's SQL against a real store on
PostgreSQL. Where a command of these files can run here (the API and its health check, the CLI arguments, the
worker's liveness probe, the Dockerfile's Python steps), it runs.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
K8S_DIR = ROOT / "deploy" / "k8s"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARD_FILES = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))

INSIGHTS_SERVICES = ("store-init", "worker", "api")
# Environment variables the image may set that are not Settings fields (read by libraries or insights.schemas).
RUNTIME_ENV = {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM", "INSIGHTS_SCHEMAS_DIR",
               "HF_HOME", "MPLCONFIGDIR"}
PLACEHOLDER = "CHANGE-ME"


# -- helpers -------------------------------------------------------------------------------------------------

_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: Any) -> Any:
    """Compose's variable interpolation with every variable unset: ``${X:-default}`` gives its default."""
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        if m.group("op") and m.group("op").endswith("?"):
            raise AssertionError(f"${{{m.group('name')}}} is required: `docker compose up` fails without it")
        return m.group("arg") or ""

    return _VAR.sub(sub, value)


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def service_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in interpolate(env).items()}


def settings_fields() -> set[str]:
    from insights.settings import Settings

    return {name.upper() for name in Settings.model_fields}


def check_settings_env(env: dict[str, str], where: str) -> None:
    """Every name is a setting (or a known runtime variable), and Settings accepts the values."""
    from insights.settings import Settings

    unknown = set(env) - settings_fields() - RUNTIME_ENV
    assert not unknown, f"{where}: {sorted(unknown)} are not fields of insights.settings.Settings"
    values = {k.lower(): v for k, v in env.items() if k in settings_fields()}
    Settings(_env_file=None, **values)  # raises on a value of the wrong type or out of range


def parse_cli(args: list[str]) -> None:
    """Parse ``insights ARGS`` with the real click command, as the container's entrypoint would, without running it."""
    from insights.cli import main

    assert args, "no subcommand"
    parent = click.Context(main, info_name="insights")
    command = main.get_command(parent, args[0])
    assert command is not None, f"`insights {args[0]}` does not exist"
    command.make_context(args[0], list(args[1:]), parent=parent)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def k8s_objects() -> list[tuple[str, dict[str, Any]]]:
    objects = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                objects.append((path.name, doc))
    return objects


def k8s_object(kind: str, name_part: str) -> dict[str, Any]:
    found = [o for _, o in k8s_objects() if o["kind"] == kind and name_part in o["metadata"]["name"]]
    assert len(found) == 1, f"expected one {kind} named *{name_part}*, found {len(found)}"
    return found[0]


def dockerfile_commands() -> list[Any]:
    dockerfile = pytest.importorskip("dockerfile", reason="the dev extra installs `dockerfile` (BuildKit's parser)")
    return list(dockerfile.parse_file(str(DOCKERFILE)))


def dockerfile_vars(commands: list[Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for c in commands:
        if c.cmd in ("ARG", "ENV"):
            pairs = c.value if c.cmd == "ENV" else [p for v in c.value for p in v.split("=", 1)]
            for key, val in zip(pairs[::2], pairs[1::2], strict=True):
                values[key] = val
    return values


def expand(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values.get(m.group(1) or m.group(2), m.group(0)), text)


# -- docker-compose.yml ----------------------------------------------------------------------------------------


def test_compose_has_the_whole_system():
    compose = load_compose()
    services = compose["services"]
    assert {"kafka", "postgres", "worker", "api", "grafana"} <= set(services)
    for name, service in services.items():
        image = service.get("image") or ""
        assert image or service.get("build"), f"{name} has neither image nor build"
        if "build" not in service:
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image tag, not {image!r}"
    for name in INSIGHTS_SERVICES:
        build = services[name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    # Named volumes used by services are declared.
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_compose_kafka_is_one_kraft_broker_the_worker_can_reach():
    services = load_compose()["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = service_env(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in k for k in env), "KRaft mode needs no ZooKeeper"
    node_id = env["KAFKA_NODE_ID"]
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert len(voters) == 1 and voters[0].startswith(f"{node_id}@")
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in env["KAFKA_LISTENERS"]
    # One broker: the internal topics cannot ask for more replicas than there are brokers.
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    advertised = {a.split("://", 1)[1] for a in env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    listener_names = {a.split("://", 1)[0] for a in env["KAFKA_LISTENERS"].split(",")}
    assert {a.split("://", 1)[0] for a in env["KAFKA_ADVERTISED_LISTENERS"].split(",")} <= listener_names
    for name in INSIGHTS_SERVICES:
        bootstrap = service_env(services[name]).get("KAFKA_BOOTSTRAP_SERVERS")
        if bootstrap:
            assert set(bootstrap.split(",")) <= advertised, f"{name}: {bootstrap} is not an advertised listener"
    assert kafka["volumes"][0].split(":", 1)[1] == env["KAFKA_LOG_DIRS"], "the log dir must be on the volume"


def test_compose_healthchecks():
    services = load_compose()["services"]
    for name in ("kafka", "postgres", "api", "grafana"):
        check = services[name].get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL")
        for key in ("interval", "timeout"):
            assert re.fullmatch(r"\d+(ms|s|m)", check[key]), f"{name}.healthcheck.{key}={check[key]!r}"
    assert "kafka-broker-api-versions.sh" in " ".join(services["kafka"]["healthcheck"]["test"])
    postgres_check = " ".join(services["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in postgres_check
    pg_env = service_env(services["postgres"])
    assert f"-U {pg_env['POSTGRES_USER']}" in postgres_check and f"-d {pg_env['POSTGRES_DB']}" in postgres_check
    assert "/health" in " ".join(services["api"]["healthcheck"]["test"])


def test_compose_depends_on_conditions():
    services = load_compose()["services"]
    for name, service in services.items():
        for target, spec in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec["condition"]
            assert condition in ("service_started", "service_healthy", "service_completed_successfully")
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), f"{name} waits for {target} healthy: it has no check"
            if condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", f"{target} is one-shot: restart must be no"
    worker_deps = services["worker"]["depends_on"]
    assert worker_deps["kafka"]["condition"] == "service_healthy"
    assert worker_deps["postgres"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # The tables are created once, before the processes that would race to create them start.
    for name in ("worker", "api"):
        assert services[name]["depends_on"]["store-init"]["condition"] == "service_completed_successfully"


def test_compose_worker_replicas_and_api_port():
    services = load_compose()["services"]
    worker, api = services["worker"], services["api"]
    assert worker["deploy"]["replicas"] == 2
    assert "container_name" not in worker, "a fixed container name prevents replicas"
    assert not worker.get("ports"), "replicas cannot share host ports"
    assert worker["command"] == ["worker"]
    assert api["command"] == ["api", "--host", "0.0.0.0", "--port", "8000"]
    assert "8000:8000" in [str(p) for p in api["ports"]]
    assert "3000:3000" in [str(p) for p in services["grafana"]["ports"]]


def test_compose_commands_parse_with_the_real_cli():
    services = load_compose()["services"]
    for name in ("worker", "api"):
        parse_cli(services[name]["command"])


def test_compose_environment_names_are_settings():
    services = load_compose()["services"]
    for name in INSIGHTS_SERVICES:
        env = service_env(services[name])
        check_settings_env(env, f"docker-compose.yml:{name}")
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["DATABASE_URL"].endswith("/" + service_env(services["postgres"])["POSTGRES_DB"])


def test_compose_store_init_command_creates_the_tables(tmp_path):
    """The one-shot service's entrypoint, run here against SQLite with the compose environment otherwise."""
    service = load_compose()["services"]["store-init"]
    entrypoint = service["entrypoint"]
    assert entrypoint[0] == "python"
    env = {**os.environ, **service_env(service), "DATABASE_URL": f"sqlite:///{tmp_path / 'init.db'}"}
    subprocess.run([sys.executable, *entrypoint[1:]], env=env, check=True, timeout=60, cwd=tmp_path)
    import sqlite3

    with sqlite3.connect(tmp_path / "init.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"feedback", "themes", "theme_events", "window_counts", "alerts"} <= tables


def test_compose_api_command_and_healthcheck_run(tmp_path):
    """`insights api --host ... --port ...` from the compose file starts, and its healthcheck command passes."""
    service = load_compose()["services"]["api"]
    port = str(free_port())
    args = [port if a == "8000" else ("127.0.0.1" if a == "0.0.0.0" else a) for a in service["command"]]
    check = service["healthcheck"]["test"]
    assert check[0] == "CMD" and check[1] == "python"
    check_cmd = [sys.executable, *(a.replace(":8000/", f":{port}/") for a in check[2:])]
    insights = shutil.which("insights", path=str(Path(sys.executable).parent)) or "insights"
    # With a token configured (as the Kubernetes Secret does), /health must still answer without one: probes send none.
    env = {**os.environ, **service_env(service), "DATABASE_URL": f"sqlite:///{tmp_path / 'api.db'}",
           "API_TOKEN": "probe-test-token"}
    proc = subprocess.Popen([insights, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            rc = subprocess.run(check_cmd, capture_output=True, timeout=10).returncode
            if rc == 0:
                break
            assert proc.poll() is None, f"the API exited: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "the API's healthcheck never passed"
            time.sleep(0.3)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
    # The same check fails when nothing answers (it is not a no-op).
    assert subprocess.run(check_cmd, capture_output=True, timeout=10).returncode != 0


def test_compose_grafana_provisioning_is_mounted_from_the_repo():
    compose = load_compose()
    grafana = compose["services"]["grafana"]
    mounts = {}
    for volume in grafana["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            assert (ROOT / source).is_dir(), f"grafana mounts {source}, which does not exist"
            mounts[target] = (ROOT / source).resolve()
    assert mounts.get("/etc/grafana/provisioning") == (GRAFANA_DIR / "provisioning").resolve()
    providers = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "insights.yaml").read_text())
    for provider in providers["providers"]:
        path = provider["options"]["path"]
        assert mounts.get(path) == (GRAFANA_DIR / "dashboards").resolve(), f"provider path {path} is not mounted"
    home = service_env(grafana).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        directory, name = home.rsplit("/", 1)
        assert (mounts[directory] / name).is_file()
    # Every variable the datasource file reads is set for the Grafana container.
    text = (GRAFANA_DIR / "provisioning" / "datasources" / "insights.yaml").read_text()
    used = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)\}?", text))
    assert used and used <= set(service_env(grafana)), f"unset in compose: {used - set(service_env(grafana))}"
    pg = service_env(compose["services"]["postgres"])
    env = service_env(grafana)
    assert env["INSIGHTS_DB_HOST"] == "postgres:5432" and env["INSIGHTS_DB_NAME"] == pg["POSTGRES_DB"]


def _compose_binary() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        out = subprocess.run([legacy, "version"], capture_output=True, text=True).stdout
        if "v2." in out:
            return [legacy]
    return None


def test_compose_file_loads_with_the_real_compose_loader(tmp_path):
    """`docker compose config` is offline; it needs only the Compose CLI, which this machine may lack."""
    compose = _compose_binary()
    if compose is None:
        pytest.skip("no Docker Compose v2 CLI here (docker compose plugin or docker-compose v2)")
    result = subprocess.run([*compose, "-f", str(COMPOSE_FILE), "config", "--quiet"], capture_output=True,
                            text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr


# -- deploy/Dockerfile and .dockerignore ------------------------------------------------------------------------


def test_dockerfile_installs_cpu_torch_before_the_project():
    commands = dockerfile_commands()
    values = dockerfile_vars(commands)
    froms = [c for c in commands if c.cmd == "FROM"]
    assert froms[-1].value[0] == "python:3.11-slim"
    runs = [(i, expand(" ".join(c.value), values)) for i, c in enumerate(commands) if c.cmd == "RUN"]
    torch_runs = [i for i, r in runs if re.search(r"pip install .*torch==", r)]
    assert len(torch_runs) == 1, "torch is installed by exactly one RUN"
    words = shlex.split(dict(runs)[torch_runs[0]])
    assert "torch==2.13.0" in words
    assert words[words.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    # The pin agrees with pyproject.toml, so the project's install finds torch satisfied and keeps the CPU build.
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.13.0" in deps
    project_runs = [i for i, r in runs if re.search(r"pip install\b.*(-e \S+|\s\.(\s|$)|/app\b|-r )", r)]
    assert project_runs, "no RUN installs the project"
    assert torch_runs[0] < min(project_runs), "torch must be installed before the project and its dependencies"


def test_dockerfile_runs_as_non_root_offline_with_the_insights_entrypoint():
    commands = dockerfile_commands()
    values = dockerfile_vars(commands)
    users = [c.value[0] for c in commands if c.cmd == "USER"]
    assert users, "no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert values.get("HF_HUB_OFFLINE") == "1"
    entrypoint = [c for c in commands if c.cmd == "ENTRYPOINT"][-1]
    assert entrypoint.json and list(entrypoint.value) == ["insights"], "exec form, so signals reach the process"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "insights" in scripts
    # The folders the service writes to exist in the image and belong to that user.
    for key in ("WORKER_DATA_DIR", "HF_HOME"):
        assert values[key] in " ".join(" ".join(c.value) for c in commands if c.cmd == "RUN"), f"{key} not created"
    chowned = [w for c in commands if c.cmd == "RUN" for w in re.findall(rf"chown -R {user}\S* (\S+)", c.value[0])]
    for key in ("WORKER_DATA_DIR", "HF_HOME"):
        assert any(values[key].startswith(d) for d in chowned), f"{key} is not writable by the user"
    # The working directory is writable too (batch commands cache embeddings in ./.cache).
    workdir = [c.value[0] for c in commands if c.cmd == "WORKDIR"][-1]
    assert any(workdir.startswith(d) for d in chowned)


def test_dockerfile_ships_the_source_tree_and_schemas():
    commands = dockerfile_commands()
    values = dockerfile_vars(commands)
    copies = [list(c.value) for c in commands if c.cmd == "COPY"]
    assert [".", "/app"] in copies, "the image needs the source tree (schemas/ next to insights/)"
    for sources in copies:
        for source in sources[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: not in the build context"
    schemas_dir = values["INSIGHTS_SCHEMAS_DIR"]
    assert schemas_dir == "/app/schemas" and any((ROOT / "schemas").glob("*.json"))


def test_dockerfile_python_steps_run(tmp_path):
    """The `python -c` parts of the RUN steps, run here on this checkout."""
    commands = dockerfile_commands()
    snippets = []
    for c in commands:
        if c.cmd != "RUN":
            continue
        words = shlex.split(" ".join(c.value))
        snippets += [words[i + 2] for i, w in enumerate(words[:-2]) if w == "python" and words[i + 1] == "-c"]
    assert len(snippets) == 3
    requirements, schema_check, onnx_export = snippets
    out = subprocess.run([sys.executable, "-c", requirements], cwd=ROOT, capture_output=True, text=True, check=True)
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert out.stdout.split("\n")[: len(deps)] == deps
    env = {**os.environ, "INSIGHTS_SCHEMAS_DIR": str(ROOT / "schemas")}
    subprocess.run([sys.executable, "-c", schema_check], cwd=tmp_path, env=env, check=True)
    # the ONNX graph is exported at build time into the folder the runtime reads (EMBEDDING_ONNX_DIR)
    onnx_dir = dockerfile_vars(commands)["EMBEDDING_ONNX_DIR"]
    assert f"onnx_dir='{onnx_dir}'" in onnx_export
    here = tmp_path / "onnx"
    subprocess.run([sys.executable, "-c", onnx_export.replace(onnx_dir, str(here))], cwd=tmp_path, check=True)
    assert len(list(here.glob("*.onnx"))) == 1


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        hit = any(fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts)))
        if pattern.startswith("**/"):
            hit = hit or any(fnmatch.fnmatch(p, pattern[3:]) for p in parts)
        if hit:
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_the_image_needs_and_drops_secrets():
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip()
                and not line.startswith("#")]
    for needed in ("pyproject.toml", "README.md", "insights/cli.py", "insights/settings.py", "streams/worker.py",
                   "schemas/survey_response.v1.json", "deploy/Dockerfile"):
        assert not _ignored(needed, patterns), f"{needed} is needed in the image but .dockerignore drops it"
    for dropped in (".git/config", ".venv/bin/python", ".env", "insights.db", "tests/conftest.py",
                    "insights/__pycache__/x.pyc"):
        assert _ignored(dropped, patterns), f"{dropped} should not reach the build context"


# -- deploy/k8s -----------------------------------------------------------------------------------------------


K8S_VERSIONS = ("1.29", "latest")


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_k8s_objects_validate_against_the_api_schemas(version):
    kv = pytest.importorskip("kubernetes_validate", reason="the dev extra installs kubernetes-validate")
    if version == "latest":
        version = kv.utils.latest_version()
    objects = k8s_objects()
    assert {o["kind"] for _, o in objects} >= {"ConfigMap", "Secret", "Deployment", "Service"}
    for filename, obj in objects:
        try:
            kv.validate(obj, version, strict=True)
        except kv.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{filename} {obj['kind']}/{obj['metadata']['name']} (Kubernetes {version}): {path}: "
                        f"{exc.message}")


def test_k8s_objects_are_namespace_agnostic_and_listed_in_kustomization():
    names = set()
    for filename, obj in k8s_objects():
        assert "namespace" not in obj["metadata"], f"{filename} names a namespace"
        key = (obj["kind"], obj["metadata"]["name"])
        assert key not in names, f"duplicate {key}"
        names.add(key)
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization" and "namespace" not in kustomization
    files = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_k8s_kustomization_builds():
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("no kubectl here")
    out = subprocess.run([kubectl, "kustomize", str(K8S_DIR)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    built = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert len(built) == len(k8s_objects())


def _pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    assert deployment["spec"]["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"][
        "labels"].items(), "the selector must match the pod template's labels"
    return deployment["spec"]["template"]["spec"]


def _check_container_basics(pod: dict[str, Any], container: dict[str, Any]) -> None:
    config, secret = k8s_object("ConfigMap", "config"), k8s_object("Secret", "secret")
    refs = {(ref.get("configMapRef") or ref.get("secretRef"))["name"] for ref in container["envFrom"]}
    assert refs == {config["metadata"]["name"], secret["metadata"]["name"]}
    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"] and resources["limits"]["memory"]
    uid = [c.value[0] for c in dockerfile_commands() if c.cmd == "USER"][-1].split(":")[0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == uid, "runAsUser should be the image's USER"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_k8s_worker_deployment():
    worker = k8s_object("Deployment", "worker")
    assert worker["spec"]["replicas"] == 2
    pod = _pod_spec(worker)
    (container,) = pod["containers"]
    assert container["args"] == ["worker"] and "command" not in container, "the image's entrypoint is insights"
    parse_cli(container["args"])
    _check_container_basics(pod, container)
    assert "exec" in container["livenessProbe"], "the worker serves no HTTP: liveness by its process"
    assert pod["terminationGracePeriodSeconds"] >= 30
    partitions = int(k8s_object("ConfigMap", "config")["data"]["TOPIC_PARTITIONS"])
    assert partitions >= worker["spec"]["replicas"], "replicas beyond the partitions would idle"
    if container["securityContext"].get("readOnlyRootFilesystem"):
        mounts = [m["mountPath"] for m in container["volumeMounts"]]
        data_dir = k8s_object("ConfigMap", "config")["data"]["WORKER_DATA_DIR"]
        assert any(data_dir.startswith(m) for m in mounts), "faust's state folder must be writable"
        assert "/tmp" in mounts


def test_k8s_worker_liveness_probe_command_runs(tmp_path):
    """The probe's shell command, pointed at a real process instead of PID 1: true for a worker, false otherwise."""
    pod = _pod_spec(k8s_object("Deployment", "worker"))
    command = pod["containers"][0]["livenessProbe"]["exec"]["command"]
    assert command[:2] == ["sh", "-c"] and "/proc/1/cmdline" in command[2]
    sleeper = "import time; time.sleep(30)"
    worker = subprocess.Popen([sys.executable, "-c", sleeper, "/usr/local/bin/insights", "worker"])
    other = subprocess.Popen([sys.executable, "-c", sleeper, "/usr/local/bin/insights", "api"])
    try:
        time.sleep(0.2)
        for proc, expected in ((worker, 0), (other, 1)):
            script = command[2].replace("/proc/1/", f"/proc/{proc.pid}/")
            assert subprocess.run(["sh", "-c", script], timeout=10).returncode == expected
    finally:
        for proc in (worker, other):
            proc.kill()
            proc.wait()


def test_k8s_api_deployment_and_service():
    api = k8s_object("Deployment", "api")
    pod = _pod_spec(api)
    (container,) = pod["containers"]
    parse_cli(container["args"])
    _check_container_basics(pod, container)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    args = container["args"]
    assert int(args[args.index("--port") + 1]) in ports.values()
    assert args[args.index("--host") + 1] == "0.0.0.0", "the API must listen beyond the pod's loopback"
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/health"
        assert get["port"] in ports or get["port"] in ports.values()
    service = k8s_object("Service", "api")
    labels = api["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items(), "the Service selects no API pod"
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in ports or port["targetPort"] in ports.values()


def test_k8s_store_init_job_runs_the_same_command_as_compose():
    job = k8s_object("Job", "store-init")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == load_compose()["services"]["store-init"]["entrypoint"]


def test_k8s_settings_are_settings_fields_and_secrets_are_placeholders():
    config = k8s_object("ConfigMap", "config")["data"]
    secret = k8s_object("Secret", "secret")
    assert "data" not in secret, "use stringData with placeholders, never base64 of a real value"
    secret_values = secret["stringData"]
    assert {"DATABASE_URL", "API_TOKEN", "KAFKA_SASL_PASSWORD"} <= set(secret_values)
    assert not set(config) & set(secret_values), "a setting is in both the ConfigMap and the Secret"
    for key, value in secret_values.items():
        assert PLACEHOLDER in value, f"Secret {key} must hold a placeholder, not a value"
    assert not any(k in config for k in ("DATABASE_URL", "API_TOKEN", "KAFKA_SASL_PASSWORD")), "secrets in ConfigMap"
    check_settings_env({**config, **secret_values}, "deploy/k8s")
    assert secret_values["DATABASE_URL"].startswith("postgresql://")
    if "SASL" in config.get("KAFKA_SECURITY_PROTOCOL", ""):
        assert config.get("KAFKA_SASL_MECHANISM") and config.get("KAFKA_SASL_USERNAME")


# -- deploy/grafana ---------------------------------------------------------------------------------------------


def grafana_datasource() -> dict[str, Any]:
    doc = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" / "insights.yaml").read_text())
    assert doc["apiVersion"] == 1
    (datasource,) = doc["datasources"]
    return datasource


def test_grafana_datasource_is_postgres_from_env():
    ds = grafana_datasource()
    assert ds["type"] in ("grafana-postgresql-datasource", "postgres")
    assert ds["uid"] and ds["access"] == "proxy"
    for value in (ds["url"], ds["user"], ds["jsonData"]["database"], ds["secureJsonData"]["password"]):
        assert re.fullmatch(r"\$\{?[A-Z_][A-Z0-9_]*\}?", value), f"{value!r} should come from the environment"
    assert "password" not in ds, "the password belongs in secureJsonData"


def test_grafana_dashboard_shape():
    assert DASHBOARD_FILES, "no dashboard in deploy/grafana/dashboards"
    ds = grafana_datasource()
    for path in DASHBOARD_FILES:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
        assert "id" not in dashboard or dashboard["id"] is None, "a provisioned dashboard carries no database id"
        panels = dashboard["panels"]
        assert len({p["id"] for p in panels}) == len(panels), "panel ids must be unique"
        cells: set[tuple[int, int]] = set()
        for p in panels:
            assert p["type"] in ("timeseries", "table", "stat", "barchart", "heatmap", "bargauge", "piechart")
            assert p["title"]
            g = p["gridPos"]
            assert all(isinstance(g[k], int) and g[k] >= 0 for k in "xywh") and g["x"] + g["w"] <= 24
            area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            assert not area & cells, f"panel {p['title']!r} overlaps another"
            cells |= area
            assert p["datasource"]["uid"] == ds["uid"] and p["datasource"]["type"] == ds["type"]
            assert p["targets"], f"panel {p['title']!r} has no query"
            assert len({t["refId"] for t in p["targets"]}) == len(p["targets"])
            for t in p["targets"]:
                assert t["rawSql"].strip() and t["format"] in ("time_series", "table")
                assert t.get("rawQuery") is True and t.get("editorMode") == "code"
                assert t.get("datasource", p["datasource"])["uid"] == ds["uid"]
        # Together the panels cover what the CX team asked for.
        sql = " ".join(t["rawSql"] for p in panels for t in p["targets"])
        for table in ("window_counts", "feedback", "alerts", "themes"):
            assert re.search(rf"\bFROM {table}\b", sql), f"no panel reads {table}"
        assert "empathy_category" in sql and "agent_id" in sql


_DURATION = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(text: str) -> int:
    m = re.fullmatch(r"'?(\d+)(ms|s|m|h|d)'?", text.strip())
    assert m, f"not a Grafana interval: {text!r}"
    return max(1, int(int(m.group(1)) * _DURATION[m.group(2)]))


def expand_grafana_macros(sql: str, start: datetime, end: datetime, interval: str = "1h") -> str:
    """What Grafana's PostgreSQL data source sends for its macros (docs: 'Macros' of the PostgreSQL data source)."""
    iso = "%Y-%m-%dT%H:%M:%SZ"
    frm, to = start.strftime(iso), end.strftime(iso)
    sql = sql.replace("$__interval_ms", str(_seconds(interval) * 1000)).replace("$__interval", f"'{interval}'")
    sql = re.sub(r"\$__timeFilter\(([^()]+)\)", lambda m: f"{m.group(1).strip()} BETWEEN '{frm}' AND '{to}'", sql)
    sql = sql.replace("$__timeFrom()", f"'{frm}'").replace("$__timeTo()", f"'{to}'")

    def group(m: re.Match, alias: bool) -> str:
        column, step = (a.strip() for a in m.group(1).split(",", 1))
        n = _seconds(step)
        return f"floor(extract(epoch from {column})/{n})*{n}" + (' AS "time"' if alias else "")

    sql = re.sub(r"\$__timeGroupAlias\(([^()]+)\)", lambda m: group(m, True), sql)
    sql = re.sub(r"\$__timeGroup\(([^()]+)\)", lambda m: group(m, False), sql)
    assert "$" not in sql, f"a Grafana macro or variable this test does not know: {sql}"
    return sql


def _seed_store(engine: Any, now: datetime) -> None:
    """A few rows in every table the dashboard reads, inside its default time range."""
    from insights.store import AlertRecord, FeedbackRecord, ThemeRecord, WindowCount

    def row(model: Any, **values: Any) -> dict[str, Any]:
        base = {c.name: None for c in model.__table__.columns}
        return base | values

    themes = [("t-rude", "rude agent", "rude"), ("t-billing", "billing surprise", None)]
    feedback = []
    for i in range(12):
        theme_id, _, empathy = themes[i % 2]
        feedback.append(row(FeedbackRecord, feedback_id=f"f-{i}", kind="survey" if i % 3 else "review",
                            text="[redacted] was rude", event_time=now - timedelta(hours=1 + i % 4), score=2.0,
                            score_type="csat", agent_id=f"a-{i % 3}", team="billing",
                            journey_stage=("onboarding", "support")[i % 2], channel="chat", truncated=False,
                            extra_dimensions={}, theme_id=theme_id, empathy_category=empathy, similarity=0.8,
                            received_at=now, updated_at=now))
    counts = []
    for w in range(3):
        start = now - timedelta(hours=3 - w)
        for theme_id, count in (("__all__", 10), ("__empathy__", 3 + w), ("__empathy__:rude", 3 + w), ("t-rude", 3 + w),
                                ("t-billing", 2)):
            for dimension, value in (("__all__", "__all__"), ("agent_id", "a-1")):
                counts.append(row(WindowCount, window_start=start, window_end=start + timedelta(hours=1),
                                  theme_id=theme_id, dimension=dimension, value=value, count=count, total=10))
    alert = row(AlertRecord, alert_id="al-1", theme_id="t-rude", theme_label="rude agent", empathy_category="rude",
                dimensions={"agent_id": "a-1"}, window_start=now - timedelta(hours=2),
                window_end=now - timedelta(hours=1), observed=5.0, expected=1.2, ratio=4.2, p_value=0.0001, z=4.1,
                severity="high", quotes=["[redacted] was rude"], explanation="rude agent rose for a-1",
                payload={}, created_at=now)
    with engine.begin() as conn:
        conn.execute(ThemeRecord.__table__.insert(), [
            row(ThemeRecord, theme_id=t, label=label, keywords=[], quotes=[], size=6, empathy_category=e,
                level="fine", parent_id="c-service", status="active", created_at=now, updated_at=now)
            for t, label, e in themes] + [
            row(ThemeRecord, theme_id="c-service", label="service", keywords=[], quotes=[], size=12,
                level="coarse", status="active", created_at=now, updated_at=now)])
        conn.execute(FeedbackRecord.__table__.insert(), feedback)
        conn.execute(WindowCount.__table__.insert(), counts)
        conn.execute(AlertRecord.__table__.insert(), [alert])


@pytest.mark.postgres
def test_grafana_dashboard_sql_runs_on_the_store(postgres_url):
    """Each panel's SQL, with Grafana's macros expanded, runs on a real store and returns what the panel needs."""
    from insights.store import InsightStore

    store = InsightStore.from_url(postgres_url)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    _seed_store(store.engine, now)
    start, end = now - timedelta(days=7), now + timedelta(hours=1)
    raw = store.engine.raw_connection()
    try:
        for path in DASHBOARD_FILES:
            for panel in json.loads(path.read_text(encoding="utf-8"))["panels"]:
                for target in panel["targets"]:
                    sql = expand_grafana_macros(target["rawSql"], start, end)
                    cursor = raw.cursor()
                    try:
                        cursor.execute(sql)
                    except Exception as exc:
                        raw.rollback()
                        pytest.fail(f"panel {panel['title']!r}: {type(exc).__name__}: {exc}\n{sql}")
                    columns = [d[0] for d in cursor.description]
                    rows = cursor.fetchall()
                    cursor.close()
                    assert rows, f"panel {panel['title']!r} shows nothing on a store with data:\n{sql}"
                    if "metric" in columns:  # a theme is never the denominator, the empathy total or a category
                        metrics = {str(r[columns.index("metric")]) for r in rows}
                        assert not any(m.startswith("__") for m in metrics), (panel["title"], metrics)
                    if target["format"] == "time_series":
                        assert "time" in columns, f"panel {panel['title']!r}: a time series needs a 'time' column"
                        value_columns = [i for i, c in enumerate(columns) if c not in ("time", "metric")]
                        assert value_columns and all(
                            isinstance(r[i], int | float) or r[i] is None or hasattr(r[i], "as_integer_ratio")
                            for r in rows for i in value_columns), f"panel {panel['title']!r}: non-numeric values"
        raw.rollback()
    finally:
        raw.close()
        store.engine.dispose()
