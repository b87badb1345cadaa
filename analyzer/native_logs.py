"""Keeps MediaPipe's native start-up chatter out of the analyzer's output.

TFLite and absl write straight to file descriptor 2 from C++ (absl::InitializeLog is never
called, so no flag or environment variable reaches them): "Created TensorFlow Lite XNNPACK
delegate", "W0000 ... inference_feedback_manager.cc ... Disabling support for feedback tensors"
and the like, once per graph and worker. They read like failures and are not. In a worker,
fd 2 becomes a pipe that a thread copies to the real stderr line by line, dropping only the
lines known to be this chatter; everything else, Python's own logs and tracebacks included,
passes through unchanged."""

from __future__ import annotations

import os
import threading

# Substrings of the lines that are dropped; each is informational.
KNOWN_CHATTER: tuple[bytes, ...] = (
    b"Created TensorFlow Lite XNNPACK delegate for CPU.",
    b"All log messages before absl::InitializeLog() is called are written to STDERR",
    b"inference_feedback_manager.cc",
    b"landmark_projection_calculator.cc",
)


def is_chatter(line: bytes) -> bool:
    return any(marker in line for marker in KNOWN_CHATTER)


def _copy(source_fd: int, sink_fd: int) -> None:
    with os.fdopen(source_fd, "rb") as source, os.fdopen(sink_fd, "wb", buffering=0) as sink:
        for line in source:
            if not is_chatter(line):
                sink.write(line)


def filter_native_stderr() -> None:
    """From now on, this process's fd 2 goes through the filter (call once, early)."""
    read_end, write_end = os.pipe()
    real_stderr = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)
    threading.Thread(
        target=_copy, args=(read_end, real_stderr), name="native-stderr", daemon=True
    ).start()
