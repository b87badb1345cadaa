"""Storage on a database laid out as Supabase lays it out, built from its documented behaviour on
a cluster of its own (roles are cluster-wide): extensions such as pgcrypto in their own schema,
the migrating role is not a superuser (CREATEROLE
and BYPASSRLS only), the API roles INHERIT, default privileges give them every right on new
tables and functions in `public`, and schema `auth` belongs to another role. Storage must
migrate, restart and serve there, and leave the API roles nothing but the task table under RLS.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from skin.identity import mint_token
from skin.storage.v1 import storage_pb2 as pb
from storage.embedded_postgres import EmbeddedPostgres, free_port
from tests.servers import auth, running_storage, storage_settings

pytestmark = pytest.mark.slow

MIGRATOR, MIGRATOR_PASSWORD = "supabase_postgres", "not-a-superuser"
# What Supabase's bootstrap gives a project, reduced to what matters to this service.
BOOTSTRAP = f"""
create role anon nologin inherit;
create role authenticated nologin inherit;
create role service_role nologin inherit bypassrls;
create role authenticator login noinherit;
grant anon, authenticated, service_role to authenticator;
create role supabase_auth_admin nologin noinherit;
create role {MIGRATOR} login createrole bypassrls password '{MIGRATOR_PASSWORD}';
grant anon, authenticated, service_role to {MIGRATOR} with admin option;
"""
IN_DATABASE = f"""
create schema extensions;
create extension pgcrypto with schema extensions;
grant usage on schema extensions to anon, authenticated, service_role, {MIGRATOR};
grant all on schema public to {MIGRATOR};
grant usage on schema public to anon, authenticated, service_role;
alter default privileges for role {MIGRATOR} in schema public
    grant all on tables to anon, authenticated, service_role;
alter default privileges for role {MIGRATOR} in schema public
    grant all on functions to anon, authenticated, service_role;
alter default privileges for role {MIGRATOR} in schema public
    grant all on sequences to anon, authenticated, service_role;
create schema auth authorization supabase_auth_admin;
create table auth.users (id uuid primary key, aud varchar(255), role varchar(255));
alter table auth.users owner to supabase_auth_admin;
create function auth.uid() returns uuid language sql stable as $$
  select coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid $$;
alter function auth.uid() owner to supabase_auth_admin;
grant usage on schema auth to anon, authenticated, service_role, {MIGRATOR};
grant references, select on auth.users to {MIGRATOR};
"""


@pytest.fixture(scope="module")
def supabase_url() -> Iterator[tuple[str, str]]:
    """(the migrating role's URL, the cluster superuser's URL) of a Supabase-like database."""
    directory = Path(tempfile.mkdtemp(prefix="skin-test-supabase-"))
    cluster = EmbeddedPostgres(directory, free_port(), durable=False)
    admin = cluster.start()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(BOOTSTRAP.encode())
        conn.execute("create database supabase")
        conn.execute(f"grant all on database supabase to {MIGRATOR}")
    superuser = make_url(admin).set(database="supabase").render_as_string(hide_password=False)
    with psycopg.connect(superuser, autocommit=True) as conn:
        conn.execute(IN_DATABASE.encode())
    migrator = (
        make_url(admin)
        .set(username=MIGRATOR, password=MIGRATOR_PASSWORD, database="supabase")
        .render_as_string(hide_password=False)
    )
    try:
        yield migrator, superuser
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def test_storage_migrates_restarts_and_serves_as_a_non_superuser(supabase_url, jwt_secret):
    migrator, superuser = supabase_url
    settings = storage_settings(migrator, jwt_secret)
    user_id = str(uuid.uuid4())
    with psycopg.connect(superuser, autocommit=True) as conn:
        conn.execute("insert into auth.users (id) values (%s)", (user_id,))
    # Found: the second start failed ("must be superuser to alter superuser roles"), so no
    # restart, rolling deploy or second replica worked. Start three times, two at once.
    async with running_storage(settings) as stub:
        md = auth(mint_token(jwt_secret, user_id))
        task = (await stub.CreateTask(pb.CreateTaskRequest(real_age=30), metadata=md)).task
    async with running_storage(settings) as first, running_storage(settings) as second:
        for stub in (first, second):
            fetched = await stub.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=md)
            assert fetched.task.id == task.id
    with psycopg.connect(superuser) as conn:
        serving = conn.execute(
            "select rolsuper, rolbypassrls, rolinherit from pg_roles where rolname = %s",
            (settings.storage_db_role,),
        ).fetchone()
    assert serving == (False, False, False)


def api_role_rights(superuser: str) -> list[tuple[str, str, str]]:
    """Every (object, role, privilege) the API roles hold on project objects."""
    query = """
        select table_schema || '.' || table_name, grantee, privilege_type
          from information_schema.role_table_grants
         where grantee in ('anon', 'authenticated')
           and table_schema in ('public', 'skin_private')
        union all
        select n.nspname || '.' || p.proname, r.rolname, 'EXECUTE'
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          cross join pg_roles r
         where n.nspname in ('public', 'skin_private') and r.rolname in ('anon', 'authenticated')
           and p.prorettype <> 'trigger'::regtype
           and has_function_privilege(r.rolname, p.oid, 'EXECUTE')
        order by 1, 2, 3
    """
    with psycopg.connect(superuser) as conn:
        return [tuple(row) for row in conn.execute(query).fetchall()]


async def test_api_roles_reach_only_the_task_table_under_rls(supabase_url, jwt_secret):
    migrator, superuser = supabase_url
    async with running_storage(storage_settings(migrator, jwt_secret)):
        pass
    rights = api_role_rights(superuser)
    assert {obj for obj, _, _ in rights} == {"public.skin_analysis_tasks"}, rights
    assert {(role, right) for _, role, right in rights} == {
        ("authenticated", "SELECT"),
        ("authenticated", "DELETE"),
    }, rights  # plus the column rights: insert of the request, update of the intake
    # Found: the migration ledger sat in public with no RLS, writable with the anon key.
    with psycopg.connect(superuser) as conn:
        conn.execute("set role anon")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from skin_private.schema_migrations")
        conn.rollback()
        conn.execute("set role authenticated")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("insert into skin_private.schema_migrations (version) values ('x')")


async def test_unknown_statuses_are_refused_by_the_database(supabase_url, jwt_secret):
    # Found: a Supabase client inserted 'pending' and gRPC answered UNSPECIFIED silently.
    migrator, superuser = supabase_url
    async with running_storage(storage_settings(migrator, jwt_secret)):
        pass
    user_id = str(uuid.uuid4())
    with psycopg.connect(superuser) as conn:
        conn.execute("insert into auth.users (id) values (%s)", (user_id,))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "insert into public.skin_analysis_tasks (user_id, status) values (%s, 'pending')",
                (user_id,),
            )


async def test_a_supabase_client_cannot_forge_a_result(supabase_url, jwt_secret):
    migrator, superuser = supabase_url
    async with running_storage(storage_settings(migrator, jwt_secret)):
        pass
    user_id = str(uuid.uuid4())
    claims = json.dumps({"sub": user_id, "role": "authenticated"})
    with psycopg.connect(superuser) as conn:
        conn.execute("insert into auth.users (id) values (%s)", (user_id,))
        conn.commit()
        # What PostgREST does for a request with the user's token.
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        conn.execute("insert into public.skin_analysis_tasks (user_id) values (%s)", (user_id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("update public.skin_analysis_tasks set status = 'succeeded'")
    await asyncio.sleep(0)
