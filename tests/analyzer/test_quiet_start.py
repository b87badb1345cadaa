"""`python -m analyzer` as an operator runs it: one analysis, then Ctrl-C. Its output has its
own JSON logs and nothing that reads like a failure: no MediaPipe/TFLite native chatter, no
KeyboardInterrupt tracebacks from the workers (found by a newcomer, issue 10)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from grpc_health.v1 import health_pb2, health_pb2_grpc

from analyzer.native_logs import is_chatter
from skin.analyzer.v1 import analyzer_pb2 as pb
from skin.analyzer.v1 import analyzer_pb2_grpc
from storage.embedded_postgres import free_port
from tests.analyzer import photos
from tests.servers import service_channel


def test_only_the_known_chatter_is_filtered():
    assert is_chatter(
        b"W0000 00:00:1796045230.48 14932 inference_feedback_manager.cc:114] Feedback manager "
        b"requires a model with a single signature inference.\n"
    )
    assert not is_chatter(b"Traceback (most recent call last):\n")
    assert not is_chatter(b"F0000 00:00:17 12 some_calculator.cc:1] Check failed: x\n")


async def test_an_analysis_then_ctrl_c_leaves_a_clean_log(jwt_secret, service_token, tmp_path):
    port = free_port()
    environment = os.environ | {
        "ANALYZER_PORT": str(port),
        "ANALYZER_WORKERS": "2",
        "SUPABASE_JWT_SECRET": jwt_secret,
        "DATA_DIR": str(tmp_path),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "analyzer"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal gives it
    )
    try:
        async with service_channel(port, service_token) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for _ in range(300):
                try:
                    reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        break
                except Exception:  # noqa: BLE001 - not listening yet
                    await asyncio.sleep(0.1)
            stub = analyzer_pb2_grpc.AnalyzerServiceStub(channel)
            request = pb.AnalyzeFaceRequest(image=photos.encode(photos.astronaut()))
            events = [event async for event in stub.AnalyzeFace(request, timeout=60)]
            assert events[-1].HasField("result")
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole group
        out, err = await asyncio.to_thread(process.communicate, timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    output = (out + err).decode(errors="replace")
    assert process.returncode == 0, output
    assert "W0000" not in output and "XNNPACK" not in output, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert "stopping" in output  # its own logs still come through
