"""Shape rules the project keeps: the domain never imports Kafka, every command has --help."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import insights

KAFKA_MODULES = ("aiokafka", "faust", "kafka", "mode")


def test_the_domain_imports_no_kafka_client() -> None:
    modules = [
        m.name
        for m in pkgutil.walk_packages(insights.__path__, "insights.")
        if m.name != "insights.cli" and ".migrations" not in m.name  # Alembic scripts run only under Alembic
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {KAFKA_MODULES!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "", f"insights/ imported Kafka modules: {result.stdout.strip()}"


def test_every_command_explains_itself() -> None:
    from click.testing import CliRunner

    from insights.cli import main

    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0
    for name in ("demo", "worker", "api", "produce"):
        assert name in top.output
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert len(result.output.splitlines()) > 3
