"""gRPC channels to storage and the analyzer: one per service, made in the app's lifespan (aio
channels belong to the running loop), kept alive, reads retried by gRPC's service config."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import grpc

from gateway.settings import GatewaySettings
from skin.analyzer.v1 import analyzer_pb2_grpc
from skin.contracts import STORAGE_SERVICE
from skin.identity import mint_token, signing_secret
from skin.storage.v1 import storage_pb2_grpc

# Idempotent reads are retried on UNAVAILABLE; writes are not (a retried CreateTask could create
# twice). round_robin spreads calls over every address a target resolves to.
SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [
                    {"service": STORAGE_SERVICE, "method": "GetTask"},
                    {"service": STORAGE_SERVICE, "method": "ListTasks"},
                ],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ],
    }
)
CHANNEL_OPTIONS = [
    ("grpc.service_config", SERVICE_CONFIG),
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    # After a backend restarts, reconnect within about two seconds (gRPC's default backoff grows
    # to two minutes, answering 503 all the while).
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2000),
    # When a server ends a connection (its maximum age), resolve its name again soon after
    # (gRPC's default waits 30 s between resolutions), so new replicas get calls.
    ("grpc.dns_min_time_between_resolutions_ms", 2000),
]


@dataclass
class Backends:
    storage_channel: grpc.aio.Channel
    analyzer_channel: grpc.aio.Channel
    storage: storage_pb2_grpc.TaskStoreServiceStub
    analyzer: analyzer_pb2_grpc.AnalyzerServiceStub

    async def close(self) -> None:
        await self.storage_channel.close()
        await self.analyzer_channel.close()


def open_backends(settings: GatewaySettings) -> Backends:
    storage_channel = grpc.aio.insecure_channel(settings.storage_target, options=CHANNEL_OPTIONS)
    analyzer_channel = grpc.aio.insecure_channel(settings.analyzer_target, options=CHANNEL_OPTIONS)
    return Backends(
        storage_channel=storage_channel,
        analyzer_channel=analyzer_channel,
        storage=storage_pb2_grpc.TaskStoreServiceStub(storage_channel),
        analyzer=analyzer_pb2_grpc.AnalyzerServiceStub(analyzer_channel),
    )


class ServiceToken:
    """The runner's service_role token: the configured key, or one minted from the HS256 secret
    (local mode included) and renewed before it expires."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._fixed = settings.supabase_service_role_key
        self._secret = None if self._fixed else signing_secret(settings)
        if not self._fixed and not self._secret:
            raise ValueError("set SUPABASE_SERVICE_ROLE_KEY: no HS256 secret to mint one from")
        self._token, self._expires = "", 0.0

    def metadata(self, request_id: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.current()}"), ("x-request-id", request_id)]

    def current(self) -> str:
        if self._fixed:
            return self._fixed
        if time.time() > self._expires - 300:
            assert self._secret is not None
            self._token = mint_token(self._secret, None, role="service_role", ttl_seconds=3600)
            self._expires = time.time() + 3600
        return self._token
