"""Row-level security as the database enforces it, through the API and beneath it."""

from __future__ import annotations

import asyncio
import json
import uuid

import grpc
import psycopg
import pytest
from google.protobuf import struct_pb2

from skin.storage.v1 import storage_pb2 as pb
from storage.database import derive_db_password, libpq_url
from tests.grpc_assertions import rpc_error
from tests.servers import auth, running_storage, storage_settings

SET_IDENTITY = (
    "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)"
)


@pytest.fixture(scope="module")
def login_role_url(pg_admin_url: str, jwt_secret: str) -> str:
    return libpq_url(pg_admin_url, role="skin_storage", password=derive_db_password(jwt_secret))


@pytest.fixture
def two_users(make_user, token_for):
    a, b = make_user(), make_user()
    return (a, auth(token_for(a))), (b, auth(token_for(b)))


async def test_other_users_task_is_not_found_everywhere(stub, two_users, service_md):
    (_, md_a), (b, md_b) = two_users
    task = (await stub.CreateTask(pb.CreateTaskRequest(real_age=30), metadata=md_a)).task
    result = struct_pb2.Struct()
    result.update({"x": 1})
    progress = pb.TaskProgress(stage="decode", fraction=0.1)
    calls = [
        stub.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=md_b),
        stub.SetIntake(pb.SetIntakeRequest(task_id=task.id, intake=result), metadata=md_b),
        stub.DeleteTask(pb.DeleteTaskRequest(task_id=task.id), metadata=md_b),
        # The service acting for B cannot reach A's task either: every statement filters on
        # the user it names.
        stub.GetTask(pb.GetTaskRequest(user_id=b, task_id=task.id), metadata=service_md),
        stub.UpdateTask(
            pb.UpdateTaskRequest(user_id=b, task_id=task.id, status=pb.TASK_STATUS_RUNNING),
            metadata=service_md,
        ),
        stub.SetRoutine(
            pb.SetRoutineRequest(user_id=b, task_id=task.id, routine=result), metadata=service_md
        ),
        stub.PublishProgress(
            pb.PublishProgressRequest(user_id=b, task_id=task.id, progress=progress),
            metadata=service_md,
        ),
    ]
    for call in calls:
        await rpc_error(call, grpc.StatusCode.NOT_FOUND, "TASK_NOT_FOUND")
    watch = stub.WatchTask(pb.WatchTaskRequest(task_id=task.id), metadata=md_b)
    await rpc_error(watch.read(), grpc.StatusCode.NOT_FOUND, "TASK_NOT_FOUND")
    assert (await stub.ListTasks(pb.ListTasksRequest(), metadata=md_b)).tasks == []
    # A's task is untouched by all of that.
    mine = (await stub.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=md_a)).task
    assert mine.status == pb.TASK_STATUS_QUEUED


async def test_user_token_cannot_name_another_user(stub, two_users):
    (_, md_a), (b, _) = two_users
    await rpc_error(
        stub.CreateTask(pb.CreateTaskRequest(user_id=b), metadata=md_a),
        grpc.StatusCode.PERMISSION_DENIED,
        "USER_MISMATCH",
    )


async def test_service_role_acts_for_the_named_user_only(stub, two_users, service_token):
    (a, md_a), (b, _) = two_users
    md_service = auth(service_token)
    await rpc_error(
        stub.CreateTask(pb.CreateTaskRequest(), metadata=md_service),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await rpc_error(
        stub.CreateTask(pb.CreateTaskRequest(user_id="nope"), metadata=md_service),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    task = (await stub.CreateTask(pb.CreateTaskRequest(user_id=a), metadata=md_service)).task
    assert task.user_id == a
    # The user sees what the service created for them; the service acting for B does not.
    assert (
        await stub.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=md_a)
    ).task.id == task.id
    await rpc_error(
        stub.GetTask(pb.GetTaskRequest(user_id=b, task_id=task.id), metadata=md_service),
        grpc.StatusCode.NOT_FOUND,
    )
    listed = await stub.ListTasks(pb.ListTasksRequest(user_id=a), metadata=md_service)
    assert [t.id for t in listed.tasks] == [task.id]


async def test_pool_of_one_alternating_users_leaks_nothing(pg_admin_url, jwt_secret, two_users):
    (a, md_a), (b, md_b) = two_users
    settings = storage_settings(pg_admin_url, jwt_secret, storage_pool_size=1)
    async with running_storage(settings) as stub:
        owned: dict[str, set[str]] = {a: set(), b: set()}
        for round_ in range(6):
            user_id, md = (a, md_a) if round_ % 2 == 0 else (b, md_b)
            owned[user_id].add((await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task.id)

        async def check(user_id: str, md) -> None:
            listed = await stub.ListTasks(pb.ListTasksRequest(), metadata=md)
            assert {t.id for t in listed.tasks} == owned[user_id]
            assert all(t.user_id == user_id for t in listed.tasks)
            other = b if user_id == a else a
            for task_id in owned[other]:
                await rpc_error(
                    stub.GetTask(pb.GetTaskRequest(task_id=task_id), metadata=md),
                    grpc.StatusCode.NOT_FOUND,
                )

        # Interleaved on the single pooled connection, sequentially and concurrently.
        for _ in range(3):
            await check(a, md_a)
            await check(b, md_b)
        await asyncio.gather(*(check(u, m) for u, m in [(a, md_a), (b, md_b)] * 5))


async def test_login_role_is_not_privileged(storage_server, pg_admin_url):
    with psycopg.connect(pg_admin_url) as conn:
        row = conn.execute(
            "select r.rolsuper, r.rolbypassrls, r.rolinherit, r.rolcanlogin, t.tableowner"
            " from pg_roles r, pg_tables t"
            " where r.rolname = 'skin_storage' and t.schemaname = 'public'"
            " and t.tablename = 'skin_analysis_tasks'"
        ).fetchone()
        policy = conn.execute(
            "select qual, with_check from pg_policies where tablename = 'skin_analysis_tasks'"
        ).fetchone()
        rls = conn.execute(
            "select relrowsecurity from pg_class where oid = 'public.skin_analysis_tasks'::regclass"
        ).fetchone()
    assert row is not None
    superuser, bypassrls, inherit, can_login, owner = row
    assert (superuser, bypassrls, inherit, can_login) == (False, False, False, True)
    assert owner != "skin_storage"
    assert rls == (True,)
    assert policy is not None and "auth.uid() = user_id" in policy[0]


async def test_query_without_identity_sees_nothing(stub, user, login_role_url):
    _, md = user
    await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)
    with psycopg.connect(login_role_url) as conn:
        # As the bare login role: no privilege at all on the table.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from public.skin_analysis_tasks")
        conn.rollback()
        # As `authenticated` but with no claims: auth.uid() is null, so no row qualifies.
        conn.execute("select set_config('role', 'authenticated', true)")
        assert conn.execute("select count(*) from public.skin_analysis_tasks").fetchone() == (0,)


async def test_moving_a_task_to_another_user_is_refused(stub, two_users, login_role_url):
    (a, md_a), (b, _) = two_users
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md_a)).task
    with psycopg.connect(login_role_url) as conn:
        conn.execute(SET_IDENTITY, (json.dumps({"sub": a, "role": "authenticated"}),))
        # user_id is not a column a user may update at all (column privileges); RLS would
        # refuse it too.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute(
                "update public.skin_analysis_tasks set user_id = %s where id = %s",
                (b, uuid.UUID(task.id)),
            )
        conn.rollback()
        # Nor can A insert a task in B's name.
        conn.execute(SET_IDENTITY, (json.dumps({"sub": a, "role": "authenticated"}),))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("insert into public.skin_analysis_tasks (user_id) values (%s)", (b,))
    assert (await stub.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=md_a)).task.user_id == a


async def test_deleting_the_user_deletes_their_tasks(stub, user, pg_admin_url):
    user_id, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute("delete from auth.users where id = %s", (user_id,))
        left = conn.execute(
            "select count(*) from public.skin_analysis_tasks where user_id = %s", (user_id,)
        ).fetchone()
    assert left == (0,)
    await rpc_error(
        stub.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=md), grpc.StatusCode.NOT_FOUND
    )


async def test_a_user_cannot_write_status_result_routine_or_progress(stub, user):
    # Found by an attacker: a user marked their own task SUCCEEDED with a forged result and
    # stored a malformed routine. Only the service identity writes these.
    _, md = user
    task = (await stub.CreateTask(pb.CreateTaskRequest(), metadata=md)).task
    forged = struct_pb2.Struct()
    forged.update({"forged": True})
    calls = [
        stub.UpdateTask(
            pb.UpdateTaskRequest(task_id=task.id, status=pb.TASK_STATUS_SUCCEEDED, result=forged),
            metadata=md,
        ),
        stub.UpdateTask(
            pb.UpdateTaskRequest(task_id=task.id, status=pb.TASK_STATUS_FAILED, error="x"),
            metadata=md,
        ),
        stub.SetRoutine(pb.SetRoutineRequest(task_id=task.id, routine=forged), metadata=md),
        stub.PublishProgress(
            pb.PublishProgressRequest(
                task_id=task.id, progress=pb.TaskProgress(stage="decode", fraction=0.5)
            ),
            metadata=md,
        ),
    ]
    for call in calls:
        await rpc_error(call, grpc.StatusCode.PERMISSION_DENIED, "SERVICE_ROLE_REQUIRED")
    unchanged = (await stub.GetTask(pb.GetTaskRequest(task_id=task.id), metadata=md)).task
    assert unchanged.status == pb.TASK_STATUS_QUEUED and not unchanged.HasField("result")


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        ("insert into public.skin_analysis_tasks (user_id, real_age) values (%(me)s, 30)", True),
        ("update public.skin_analysis_tasks set intake = '{}' where user_id = %(me)s", True),
        ("select count(*) from public.skin_analysis_tasks", True),
        ("delete from public.skin_analysis_tasks where user_id = %(me)s", True),
        (
            "insert into public.skin_analysis_tasks (user_id, status, result)"
            " values (%(me)s, 'succeeded', '{\"forged\": true}')",
            False,
        ),
        (
            "update public.skin_analysis_tasks set status = 'succeeded' where user_id = %(me)s",
            False,
        ),
        ("update public.skin_analysis_tasks set result = '{}' where user_id = %(me)s", False),
        ("update public.skin_analysis_tasks set routine_json = '{}' where user_id = %(me)s", False),
        ("update public.skin_analysis_tasks set error = 'x' where user_id = %(me)s", False),
    ],
)
def test_database_lets_a_supabase_client_write_only_request_columns(
    pg_admin_url, storage_server, make_user, statement, allowed
):
    # What a Supabase client holding a user's token reaches through the REST API: role
    # authenticated with the user's claims. The column privileges decide, not our service.
    me = make_user()
    claims = json.dumps({"sub": me, "role": "authenticated", "aud": "authenticated"})
    with psycopg.connect(pg_admin_url) as conn:
        conn.execute(SET_IDENTITY, (claims,))
        if allowed:
            conn.execute(statement, {"me": me})
        else:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement, {"me": me})
        conn.rollback()


@pytest.mark.parametrize("statement", ["select 1 from public.skin_analysis_tasks limit 1"])
def test_database_gives_anon_nothing(pg_admin_url, storage_server, statement):
    with psycopg.connect(pg_admin_url) as conn:
        conn.execute("select set_config('role', 'anon', true)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
        conn.rollback()
