"""A throw-away PostgreSQL server of a test's own: its own data directory and port, started and stopped at will.

Never the machine's service: ``initdb`` makes a fresh cluster in a temporary folder, ``pg_ctl`` runs it on a free
loopback port with its socket in that folder. When the tests run as root (PostgreSQL refuses to), the server runs
as the ``postgres`` OS user through ``runuser``, in a folder that user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from streams.broker import free_port


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb and pg_ctl (or $PG_BIN_DIR), or None."""
    candidates = [os.environ["PG_BIN_DIR"]] if os.environ.get("PG_BIN_DIR") else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                         if Path(p).parent.name.isdigit() else 0, reverse=True)
    for c in candidates:
        if (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


def unavailable_reason() -> str | None:
    if postgres_bin_dir() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl) on this machine"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' OS user to run a server as"
        if shutil.which("runuser") is None:
            return "running as root without runuser"
    return None


class LocalPostgres:
    """``with LocalPostgres() as pg:`` a running server; ``pg.stop()`` / ``pg.start()`` simulate an outage."""

    def __init__(self, port: int | None = None) -> None:
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        self.bin = postgres_bin_dir()
        self.port = port or free_port()
        self.as_postgres = os.geteuid() == 0
        # /tmp, not pytest's tmp_path: the postgres user must be able to reach it
        self.root = Path(tempfile.mkdtemp(prefix="cx-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        os.chmod(self.root, 0o755)
        self._initialised = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres?connect_timeout=3"

    def _run(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n"
                               f"{self.log_text()[-2000:]}")
        return result

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-locale", "--no-sync", timeout=120)
        self._initialised = True

    def start(self, timeout: float = 60) -> None:
        if not self._initialised:
            self.init()
        # fsync=off only: a stopped (even crashed) server loses nothing the OS has, so a commit it acknowledged
        # is there after a restart; synchronous_commit=off would lose acknowledged commits on an immediate stop.
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", str(int(timeout)),
                  "start", timeout=timeout + 10)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server: ``immediate`` drops every connection at once, like a crash or a pulled cable."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def is_running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def cleanup(self) -> None:
        if self._initialised:
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
