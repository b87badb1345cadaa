"""A private PostgreSQL cluster under a data directory, for local runs and tests.

Uses the machine's PostgreSQL server binaries. initdb refuses to run as root, so as root the
cluster runs as the unprivileged `postgres` OS user. The superuser password is generated once and
kept (0600) beside the cluster; the server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found: install them "
    "(Debian/Ubuntu: `apt-get install postgresql`) or set DATABASE_URL to a running server."
)
RUN_AS_USER = "postgres"


class PostgresNotAvailable(RuntimeError):
    """No usable PostgreSQL server binaries on this machine."""


def find_bindir() -> Path:
    """The directory holding initdb and pg_ctl: PATH, then `pg_config --bindir`, then the
    newest /usr/lib/postgresql/*/bin."""
    candidates: list[Path] = []
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if result.returncode == 0:
            candidates.append(Path(result.stdout.strip()))
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    candidates.extend(Path(p) for p in versions)
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    raise PostgresNotAvailable(INSTALL_HINT)


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Distinct free ports: each socket stays bound until all are chosen, so the OS cannot hand
    the same port out twice."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class EmbeddedPostgres:
    """Creates (once), starts and stops a cluster in `directory`, listening on 127.0.0.1:port."""

    def __init__(self, directory: Path, port: int, *, durable: bool = True) -> None:
        self.directory = directory.resolve()
        self.pgdata = self.directory / "pgdata"
        self.port = port
        self._durable = durable
        self._bindir = find_bindir()
        self._as_other_user = os.geteuid() == 0
        self._password_file = self.directory / "pg-superuser-password"

    @property
    def admin_url(self) -> str:
        password = quote(self._password_file.read_text().strip(), safe="")
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/postgres"

    def start(self) -> str:
        """Initialises the cluster when new, starts it unless running; returns the admin URL."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        if self._run("pg_ctl", "status", "-D", str(self.pgdata), check=False).returncode != 0:
            options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            if not self._durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            log = self.directory / "postgres.log"
            self._ensure_owned(log, touch=True)
            self._run(
                "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.pgdata),
                "-l", str(log), "-o", options,
            )  # fmt: skip
            logger.info("embedded PostgreSQL started on 127.0.0.1:%d", self.port)
        return self.admin_url

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.pgdata), check=False)

    def _initdb(self) -> None:
        if not self._password_file.exists():
            fd = os.open(self._password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(24))
        password_copy = self.directory / ".initdb-pwfile"
        shutil.copyfile(self._password_file, password_copy)
        self._ensure_owned(password_copy)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self._ensure_owned(self.pgdata)
        try:
            self._run(
                "initdb", "-D", str(self.pgdata), "-U", "postgres", "-E", "UTF8",
                "--locale=C", "--auth-local=peer", "--auth-host=scram-sha-256",
                f"--pwfile={password_copy}",
            )  # fmt: skip
        finally:
            password_copy.unlink(missing_ok=True)

    def _ensure_owned(self, path: Path, *, touch: bool = False) -> None:
        if touch:
            path.touch(exist_ok=True)
        if self._as_other_user:
            user = pwd.getpwnam(RUN_AS_USER)
            os.chown(path, user.pw_uid, user.pw_gid)
            # The OS user must be able to reach the cluster through every parent directory.
            for parent in path.parents:
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self._bindir / tool), *args]
        if self._as_other_user:
            command = ["runuser", "-u", RUN_AS_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip()}")
        return result
