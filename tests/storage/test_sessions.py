"""One call, one message: the identity and the statement share an implicit transaction, and
nothing of either outlives it on the pooled connection."""

from __future__ import annotations

import psycopg
import pytest

from skin.grpc_runtime import call_budget
from storage.database import USER_ROLE, Database, claims_for_user, derive_db_password, libpq_url

WHO = (
    "select current_user::text as role, current_setting('request.jwt.claims', true) as claims,"
    " auth.uid()::text as uid, current_setting('statement_timeout') as timeout"
)


@pytest.fixture
async def pool_of_one(storage_server, pg_admin_url, jwt_secret):
    url = libpq_url(pg_admin_url, role="skin_storage", password=derive_db_password(jwt_secret))
    database = Database(url, pool_size=1)
    await database.open()
    await database.pool.wait()
    yield database
    await database.dispose()


async def test_identity_applies_to_the_statement_and_ends_with_it(pool_of_one, make_user):
    user_id = make_user()
    claims = claims_for_user(user_id, None)
    call_budget.set(2.5)
    seen = await pool_of_one.acting(USER_ROLE, claims).one(WHO, {})
    assert (seen.role, seen.uid, seen.timeout) == (USER_ROLE, user_id, "2500ms")
    # The same (only) connection, asked without an identity, is the login role again.
    async with pool_of_one.pool.connection() as conn:
        after = await (await conn.execute(WHO.replace("auth.uid()::text", "null"))).fetchone()
    assert after.role == "skin_storage"
    assert not after.claims
    assert after.timeout != "2500ms"


async def test_the_call_budget_bounds_the_statement(pool_of_one, make_user):
    call_budget.set(0.2)
    session = pool_of_one.acting(USER_ROLE, claims_for_user(make_user(), None))
    with pytest.raises(psycopg.errors.QueryCanceled):
        await session.all("select pg_sleep(3)", {})
    call_budget.set(10.0)
    assert (await session.one("select 1 as one", {})).one == 1


async def test_a_failing_statement_leaves_nothing_behind(pool_of_one, make_user):
    session = pool_of_one.acting(USER_ROLE, claims_for_user(make_user(), None))
    with pytest.raises(psycopg.errors.DivisionByZero):
        await session.all("select 1 / 0", {})
    async with pool_of_one.pool.connection() as conn:
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        row = await (await conn.execute("select current_user::text as role")).fetchone()
    assert row.role == "skin_storage"
