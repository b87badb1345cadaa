"""Applies the SQL migrations with a privileged connection and sets up the service's login role.

Idempotent and safe for concurrent replicas (an advisory lock serialises them). The auth shim is
skipped where schema `auth` already exists (Supabase); the seed's DDL runs verbatim, statement by
statement, skipping only what the server already has or cannot have (an existing policy; the
pgcrypto extension where it is not installed, since gen_random_uuid() is built in from PG 13).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

SQL_DIR = Path(__file__).parent / "sql"
SHIM = "0000_auth_shim"
SEED = "0001_seed"
SEED_POLICY = "Users manage their own skin analysis tasks"
_LOCK_KEY = 0x5C1A_7A5C  # any constant shared by every replica


@dataclass(frozen=True)
class LoginRole:
    """The low-privilege role every serving connection logs in as."""

    name: str
    password: str


def split_statements(script: str) -> list[str]:
    """Splits SQL on top-level semicolons, keeping dollar-quoted bodies and strings whole."""
    statements: list[str] = []
    current: list[str] = []
    i, quote = 0, None
    while i < len(script):
        char = script[i]
        if quote is None and script.startswith("--", i):
            end = script.find("\n", i)
            i = len(script) if end == -1 else end
            continue
        if quote is None and char == "$":
            end = script.find("$", i + 1)
            tag = script[i : end + 1] if end != -1 else ""
            if tag and (tag == "$$" or tag[1:-1].isidentifier()):
                quote = tag
                current.append(tag)
                i = end + 1
                continue
        elif quote is not None and quote.startswith("$") and script.startswith(quote, i):
            current.append(quote)
            i += len(quote)
            quote = None
            continue
        elif char == "'" and (quote is None or quote == "'"):
            quote = None if quote == "'" else "'"
        elif char == ";" and quote is None:
            statement = "".join(current).strip()
            if statement:
                statements.append(statement)
            current = []
            i += 1
            continue
        current.append(char)
        i += 1
    tail = "".join(current).strip()
    if tail:
        statements.append(tail)
    return statements


def migration_files() -> list[Path]:
    return sorted(SQL_DIR.glob("*.sql"))


def _exists(conn: psycopg.Connection, query: str, *params: object) -> bool:
    return conn.execute(query, params).fetchone() is not None


def _skip_seed_statement(conn: psycopg.Connection, statement: str) -> str | None:
    """Why a seed statement is not run here, or None to run it."""
    lowered = " ".join(statement.lower().split())
    if lowered.startswith("create extension if not exists pgcrypto"):
        if not _exists(conn, "select 1 from pg_available_extensions where name = 'pgcrypto'"):
            return "pgcrypto is not available; gen_random_uuid() is built in"
    if lowered.startswith("create policy") and _exists(
        conn,
        "select 1 from pg_policies where schemaname = 'public' "
        "and tablename = 'skin_analysis_tasks' and policyname = %s",
        SEED_POLICY,
    ):
        return "the policy already exists"
    return None


def _apply(conn: psycopg.Connection, version: str, script: str) -> str | None:
    if version == SHIM and _exists(
        conn, "select to_regclass('auth.users')::text where to_regclass('auth.users') is not null"
    ):
        return "schema auth already present (Supabase): shim skipped"
    notes = []
    for statement in split_statements(script):
        reason = _skip_seed_statement(conn, statement) if version == SEED else None
        if reason:
            notes.append(reason)
            continue
        conn.execute(statement.encode())
    return "; ".join(notes) or None


def ensure_login_role(conn: psycopg.Connection, role: LoginRole) -> None:
    """Creates or updates the service's login role: LOGIN NOINHERIT, no superuser, no BYPASSRLS,
    member of authenticated and service_role, owner of nothing."""
    name = sql.Identifier(role.name)
    attributes = sql.SQL(
        "login noinherit nosuperuser nobypassrls nocreatedb nocreaterole password {}"
    ).format(sql.Literal(role.password))
    if _exists(conn, "select 1 from pg_roles where rolname = %s", role.name):
        conn.execute(sql.SQL("alter role {} with {}").format(name, attributes))
    else:
        conn.execute(sql.SQL("create role {} with {}").format(name, attributes))
    conn.execute(sql.SQL("grant authenticated, service_role to {}").format(name))
    if _exists(
        conn,
        "select to_regprocedure('auth.ensure_local_user(uuid)')::text "
        "where to_regprocedure('auth.ensure_local_user(uuid)') is not null",
    ):
        # NOINHERIT: the role itself needs the schema and function, not only its granted roles.
        conn.execute(sql.SQL("grant usage on schema auth to {}").format(name))
        conn.execute(
            sql.SQL("grant execute on function auth.ensure_local_user(uuid) to {}").format(name)
        )
    owner = conn.execute(
        "select tableowner from pg_tables where schemaname = 'public' "
        "and tablename = 'skin_analysis_tasks'"
    ).fetchone()
    if owner and owner[0] == role.name:
        raise RuntimeError(f"role {role.name} owns the table; RLS would not bind it")


def migrate(admin_url: str, login_role: LoginRole | None) -> list[str]:
    """Applies pending migrations; returns the versions applied by this call."""
    applied_now: list[str] = []
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "create table if not exists public.skin_schema_migrations ("
                " version text primary key,"
                " applied_at timestamptz not null default now(),"
                " note text)"
            )
            done = {
                row[0] for row in conn.execute("select version from public.skin_schema_migrations")
            }
            for path in migration_files():
                version = path.stem
                if version in done:
                    continue
                with conn.transaction():
                    note = _apply(conn, version, path.read_text())
                    conn.execute(
                        "insert into public.skin_schema_migrations (version, note) values (%s, %s)",
                        (version, note),
                    )
                logger.info("migration %s applied%s", version, f" ({note})" if note else "")
                applied_now.append(version)
            if login_role is not None:
                with conn.transaction():
                    ensure_login_role(conn, login_role)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
