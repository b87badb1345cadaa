"""Applies the SQL migrations with a privileged connection and sets up the service's login role.

Idempotent and safe for concurrent replicas (an advisory lock serialises them), and it works as a
role that is not a superuser (Supabase's `postgres` has CREATEROLE and BYPASSRLS only), on every
start. The ledger lives in the private schema `skin_private`, which the API roles cannot use:
on Supabase every table in `public` is reachable through the REST API.

Each file runs whole, in one transaction (psycopg sends a script without parameters as one
simple query, so the server's own parser splits it). The seed is the exception: its DDL runs
verbatim, statement by statement, skipping only what the server already has or cannot have (an
existing policy; the pgcrypto extension where it is not installed, since gen_random_uuid() is
built in from PG 13).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pglast
import psycopg
from pglast import ast
from psycopg import sql

logger = logging.getLogger(__name__)

SQL_DIR = Path(__file__).parent / "sql"
SHIM = "0000_auth_shim"
SEED = "0001_seed"
SEED_POLICY = "Users manage their own skin analysis tasks"
_LOCK_KEY = 0x5C1A_7A5C  # any constant shared by every replica
PRIVATE_SCHEMA = "skin_private"  # the project's bookkeeping, out of the API roles' reach
LEDGER = f"{PRIVATE_SCHEMA}.schema_migrations"


@dataclass(frozen=True)
class LoginRole:
    """The low-privilege role every serving connection logs in as."""

    name: str
    password: str | None  # None: keep the role's password (or create it without one)


def split_statements(script: str) -> list[str]:
    """The script's statements as PostgreSQL's own parser reads them (libpg_query, through
    pglast): quotes, dollar-quoted bodies and comments never split one. Only the seed is
    split."""
    return [statement.strip() for statement in pglast.split(script, with_parser=True)]


def migration_files() -> list[Path]:
    return sorted(SQL_DIR.glob("*.sql"))


def _exists(conn: psycopg.Connection, query: str, *params: object) -> bool:
    return conn.execute(query, params).fetchone() is not None


def _skip_seed_statement(conn: psycopg.Connection, statement: str) -> str | None:
    """Why a seed statement is not run here, or None to run it (read from its parse tree)."""
    node = pglast.parse_sql(statement)[0].stmt
    if isinstance(node, ast.CreateExtensionStmt) and node.extname == "pgcrypto":
        if not _exists(conn, "select 1 from pg_available_extensions where name = 'pgcrypto'"):
            return "pgcrypto is not available; gen_random_uuid() is built in"
    if (
        isinstance(node, ast.CreatePolicyStmt)
        and node.policy_name == SEED_POLICY
        and _exists(
            conn,
            "select 1 from pg_policies where schemaname = 'public' "
            "and tablename = 'skin_analysis_tasks' and policyname = %s",
            SEED_POLICY,
        )
    ):
        return "the policy already exists"
    return None


def _apply(conn: psycopg.Connection, version: str, script: str) -> str | None:
    if version == SHIM and _exists(
        conn, "select to_regclass('auth.users')::text where to_regclass('auth.users') is not null"
    ):
        return "schema auth already present (Supabase): shim skipped"
    if version != SEED:
        conn.execute(script.encode())
        return None
    notes = []
    for statement in split_statements(script):
        reason = _skip_seed_statement(conn, statement)
        if reason:
            notes.append(reason)
            continue
        conn.execute(statement.encode())
    return "; ".join(notes) or None


def _is_member(conn: psycopg.Connection, role: str, member: str) -> bool:
    return _exists(
        conn,
        "select 1 from pg_auth_members m join pg_roles r on r.oid = m.roleid"
        " join pg_roles u on u.oid = m.member where r.rolname = %s and u.rolname = %s",
        role,
        member,
    )


def ensure_login_role(conn: psycopg.Connection, role: LoginRole) -> None:
    """Creates or updates the service's login role: LOGIN NOINHERIT, member of authenticated
    and service_role, owner of nothing, never a superuser or BYPASSRLS. Only what a CREATEROLE
    role may change is set (naming SUPERUSER or BYPASSRLS at all, even to turn them off, needs
    a superuser), and grants already held are not repeated, so this works as Supabase's
    `postgres` on every start."""
    name = sql.Identifier(role.name)
    password = (
        sql.SQL(" password {}").format(sql.Literal(role.password)) if role.password else sql.SQL("")
    )
    facts = conn.execute(
        "select rolsuper, rolbypassrls from pg_roles where rolname = %s", (role.name,)
    ).fetchone()
    if facts is None:
        conn.execute(sql.SQL("create role {} with login noinherit{}").format(name, password))
    else:
        if facts[0] or facts[1]:
            raise RuntimeError(
                f"role {role.name} is a superuser or bypasses row-level security; "
                "storage must serve as a role that is neither"
            )
        conn.execute(sql.SQL("alter role {} with login noinherit{}").format(name, password))
    for granted in ("authenticated", "service_role"):
        if not _is_member(conn, granted, role.name):
            conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(granted), name))
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
    # The webhook outbox is used by the login role itself (no SET ROLE): the API roles, which
    # Supabase exposes, get nothing in the private schema.
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(
        sql.Identifier(PRIVATE_SCHEMA), name))  # fmt: skip
    if _exists(conn, "select 1 where to_regclass('skin_private.webhook_outbox') is not null"):
        conn.execute(
            sql.SQL(
                "grant select, insert, update, delete on skin_private.webhook_outbox to {}"
            ).format(name)
        )
    owner = conn.execute(
        "select tableowner from pg_tables where schemaname = 'public' "
        "and tablename = 'skin_analysis_tasks'"
    ).fetchone()
    if owner and owner[0] == role.name:
        raise RuntimeError(f"role {role.name} owns the table; RLS would not bind it")


def _prepare_ledger(conn: psycopg.Connection) -> None:
    """The private schema and the ledger in it. Earlier versions kept the ledger in `public`,
    where Supabase's API roles could write to it; it is moved, rows and all."""
    conn.execute(f"create schema if not exists {PRIVATE_SCHEMA}")
    conn.execute(f"revoke all on schema {PRIVATE_SCHEMA} from public")
    old_ledger = "select 1 where to_regclass('public.skin_schema_migrations') is not null"
    new_ledger = f"select 1 where to_regclass('{LEDGER}') is not null"
    if _exists(conn, old_ledger) and not _exists(conn, new_ledger):
        conn.execute(f"alter table public.skin_schema_migrations set schema {PRIVATE_SCHEMA}")
        conn.execute(
            f"alter table {PRIVATE_SCHEMA}.skin_schema_migrations rename to schema_migrations"
        )
    conn.execute(
        f"create table if not exists {LEDGER} ("
        " version text primary key,"
        " applied_at timestamptz not null default now(),"
        " note text)"
    )
    conn.execute(f"revoke all on {LEDGER} from public")


def migrate(admin_url: str, login_role: LoginRole | None) -> list[str]:
    """Applies pending migrations; returns the versions applied by this call."""
    applied_now: list[str] = []
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            with conn.transaction():
                _prepare_ledger(conn)
            done = {row[0] for row in conn.execute(f"select version from {LEDGER}")}
            for path in migration_files():
                version = path.stem
                if version in done:
                    continue
                with conn.transaction():
                    note = _apply(conn, version, path.read_text())
                    conn.execute(
                        f"insert into {LEDGER} (version, note) values (%s, %s)", (version, note)
                    )
                logger.info("migration %s applied%s", version, f" ({note})" if note else "")
                applied_now.append(version)
            if login_role is not None:
                with conn.transaction():
                    ensure_login_role(conn, login_role)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
