"""The storage server stack with GetTask answered from memory: the framework's ceiling.

Same grpc.aio server, same interceptor (token verification, deadline, error mapping), same
message conversion; no database. `python -m bench.noop_storage_server PORT` (JWT secret from
SUPABASE_JWT_SECRET).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime

import grpc

from skin.contracts import STORAGE_SERVICE
from skin.grpc_runtime import ServiceInterceptor, add_health_and_reflection, set_serving
from skin.identity import build_verifier
from skin.storage.v1 import storage_pb2, storage_pb2_grpc
from storage.settings import StorageSettings


class NoopTaskStore(storage_pb2_grpc.TaskStoreServiceServicer):
    def __init__(self) -> None:
        self._task = storage_pb2.Task(
            id=str(uuid.uuid4()), user_id=str(uuid.uuid4()), status=storage_pb2.TASK_STATUS_QUEUED
        )
        self._task.create_time.FromDatetime(datetime.now(UTC))
        self._task.update_time.FromDatetime(datetime.now(UTC))

    async def GetTask(
        self, request: storage_pb2.GetTaskRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.GetTaskResponse:
        return storage_pb2.GetTaskResponse(task=self._task)


async def main(port: int) -> None:
    settings = StorageSettings()
    interceptor = ServiceInterceptor(
        "skin.storage.v1", "bench", build_verifier(settings), settings.storage_max_call_seconds
    )
    server = grpc.aio.server(interceptors=[interceptor])
    storage_pb2_grpc.add_TaskStoreServiceServicer_to_server(NoopTaskStore(), server)
    health = add_health_and_reflection(server, [STORAGE_SERVICE])
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await set_serving(health, [STORAGE_SERVICE])
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
