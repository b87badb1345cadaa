"""The storage service refuses every bad token with UNAUTHENTICATED, and trusts no bare header."""

from __future__ import annotations

import time

import grpc
import jwt
import pytest

from skin.storage.v1 import storage_pb2 as pb
from tests.grpc_assertions import rpc_error
from tests.skin.test_identity import REFUSED, claims


@pytest.mark.parametrize("name", sorted(REFUSED))
async def test_bad_tokens_are_unauthenticated(stub, name):
    metadata = [("authorization", f"Bearer {REFUSED[name]}")]
    await rpc_error(
        stub.ListTasks(pb.ListTasksRequest(), metadata=metadata), grpc.StatusCode.UNAUTHENTICATED
    )


async def test_token_signed_with_another_projects_secret(stub, user):
    user_id, _ = user
    token = jwt.encode(claims(sub=user_id, exp=int(time.time()) + 60), "x" * 40, algorithm="HS256")
    await rpc_error(
        stub.ListTasks(pb.ListTasksRequest(), metadata=[("authorization", f"Bearer {token}")]),
        grpc.StatusCode.UNAUTHENTICATED,
        "INVALID_TOKEN",
    )


async def test_missing_token_and_bare_user_header_are_unauthenticated(stub, user):
    user_id, _ = user
    await rpc_error(stub.ListTasks(pb.ListTasksRequest()), grpc.StatusCode.UNAUTHENTICATED)
    await rpc_error(
        stub.ListTasks(pb.ListTasksRequest(user_id=user_id), metadata=[("x-user-id", user_id)]),
        grpc.StatusCode.UNAUTHENTICATED,
    )
