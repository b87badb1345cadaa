"""Migrations: idempotent, recorded, safe where the seed already ran, and on Supabase's layout."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from skin.identity import mint_token
from skin.storage.v1 import storage_pb2 as pb
from storage.database import derive_db_password, libpq_url
from storage.migrations import LoginRole, migrate
from storage.migrations.runner import SQL_DIR, split_statements
from tests.servers import auth, running_storage, storage_settings


@pytest.fixture
def fresh_database(pg_admin_url: str) -> Iterator[str]:
    name = f"mig_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    yield make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'drop database "{name}" with (force)')


def recorded(url: str) -> dict[str, str | None]:
    with psycopg.connect(url) as conn:
        return dict(
            conn.execute("select version, note from skin_private.schema_migrations").fetchall()
        )


def test_migrate_twice_applies_once(fresh_database):
    # Login roles are cluster-wide: tests that pick their own password use their own role.
    role = LoginRole("skin_storage_migration_test", "pw-" + uuid.uuid4().hex)
    first = migrate(fresh_database, role)
    assert first == sorted(path.stem for path in SQL_DIR.glob("*.sql"))
    assert migrate(fresh_database, role) == []
    assert set(recorded(fresh_database)) == set(first)


def test_migrate_where_the_seed_already_ran_like_supabase(fresh_database):
    # Supabase's layout: schema auth exists, then someone ran the seed by hand.
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute((SQL_DIR / "0000_auth_shim.sql").read_text().encode())
        conn.execute((SQL_DIR / "0001_seed.sql").read_text().encode())
    migrate(fresh_database, LoginRole("skin_storage_migration_test", "pw-" + uuid.uuid4().hex))
    notes = recorded(fresh_database)
    assert "Supabase" in (notes["0000_auth_shim"] or "")
    assert "policy already exists" in (notes["0001_seed"] or "")
    with psycopg.connect(fresh_database) as conn:
        policies = conn.execute(
            "select count(*) from pg_policies where tablename = 'skin_analysis_tasks'"
        )
        assert policies.fetchone() == (1,)


def test_statement_splitter_keeps_function_bodies_whole():
    statements = split_statements((SQL_DIR / "0001_seed.sql").read_text())
    assert len(statements) == 7
    assert any("new.updated_at = now();" in s for s in statements)
    assert split_statements("select 'a;b'; select 2") == ["select 'a;b'", "select 2"]


@pytest.mark.parametrize(
    "first",
    [
        "select 1 /*;*/",
        "select 1 /* a /* nested; */ still; */",
        'select 1 as "a;b"',
        "select E'\\';'",
        "select 'it''s; fine'",
        "select $tag$ ; $tag$",
        "select 1 -- a; comment\n",
    ],
    ids=["block comment", "nested comment", "quoted identifier", "escape string", "doubled quote",
         "dollar quote", "line comment"],
)  # fmt: skip
def test_statement_splitter_handles_what_postgresql_parses(fresh_database, first):
    # Found with the hand-written splitter this replaced: /*;*/, "a;b" and E'\'' each split a
    # statement in two. Every piece must also run.
    statements = split_statements(f"{first}; select 2")
    assert len(statements) == 2 and statements[1] == "select 2", statements
    with psycopg.connect(fresh_database) as conn:
        for statement in statements:
            conn.execute(statement.encode())


async def test_admin_url_migrates_and_database_url_serves_as_given(fresh_database, jwt_secret):
    # Found: with DATABASE_ADMIN_URL set, DATABASE_URL's user and password were ignored.
    role, password = f"skin_given_{uuid.uuid4().hex[:8]}", "given-" + uuid.uuid4().hex
    given = make_url(fresh_database).set(username=role, password=password)
    settings = storage_settings(
        given.render_as_string(hide_password=False),
        jwt_secret,
        database_admin_url=fresh_database,
    )
    async with running_storage(settings) as stub:
        user_id = str(uuid.uuid4())
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute("insert into auth.users (id) values (%s)", (user_id,))
        md = auth(mint_token(jwt_secret, user_id))
        assert (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task.user_id == user_id
        with psycopg.connect(fresh_database) as conn:
            sessions = conn.execute(
                "select count(*) from pg_stat_activity where usename = %s", (role,)
            ).fetchone()
    assert sessions is not None and sessions[0] >= 1


async def test_low_privilege_database_url_is_used_as_it_is(fresh_database, jwt_secret, make_user):
    password = derive_db_password(jwt_secret)
    migrate(fresh_database, LoginRole("skin_storage", password))
    user_id = str(uuid.uuid4())
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("insert into auth.users (id) values (%s)", (user_id,))
    low = libpq_url(fresh_database, role="skin_storage", password=password)
    async with running_storage(storage_settings(low, jwt_secret)) as stub:
        md = auth(mint_token(jwt_secret, user_id))
        task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    assert task.user_id == user_id


async def test_local_mode_creates_the_user_on_first_sight(fresh_database):
    settings = storage_settings(fresh_database, None, storage_db_role="skin_storage_local_test")
    assert settings.local_auth
    user_id = str(uuid.uuid4())
    async with running_storage(settings) as stub:
        secret = (settings.data_dir / "dev-jwt-secret").read_text().strip()
        md = auth(mint_token(secret, user_id))
        task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    assert task.user_id == user_id
    with psycopg.connect(fresh_database) as conn:
        users = conn.execute("select count(*) from auth.users where id = %s", (user_id,))
        assert users.fetchone() == (1,)


def test_a_ledger_left_in_public_by_an_older_version_is_moved(fresh_database):
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(
            "create table public.skin_schema_migrations (version text primary key,"
            " applied_at timestamptz not null default now(), note text)"
        )
        conn.execute("insert into public.skin_schema_migrations (version) values ('0000_x')")
    migrate(fresh_database, LoginRole("skin_storage_migration_test", "pw-" + uuid.uuid4().hex))
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("select to_regclass('public.skin_schema_migrations')").fetchone() == (
            None,
        )
    assert "0000_x" in recorded(fresh_database)
