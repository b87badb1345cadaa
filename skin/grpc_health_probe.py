"""`python -m skin.grpc_health_probe HOST:PORT [SERVICE]`: exit 0 when the server's gRPC health
(grpc.health.v1) says SERVING, 1 otherwise. The images' HEALTHCHECK and compose use it;
Kubernetes has native gRPC probes."""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check(target: str, service: str = "", timeout: float = 3.0, quiet: bool = False) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError as exc:
            if not quiet:
                sys.stderr.write(f"{target}: {exc.code().name}\n")
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2:
        sys.stderr.write("usage: python -m skin.grpc_health_probe HOST:PORT [SERVICE]\n")
        return 2
    return 0 if check(args[0], args[1] if len(args) > 1 else "") else 1


if __name__ == "__main__":
    sys.exit(main())
