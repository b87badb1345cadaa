"""Rules of the API that more than one service checks, defined once: a task's status names, the
analysis stages' names, the age a user may declare with a photo, and which bytes are a photo.
The gateway, storage, the analyzer and skinctl import them; the protos' comments and the page's
form state the same age range for their readers."""

from __future__ import annotations

from skin.analyzer.v1 import analyzer_pb2
from skin.storage.v1 import storage_pb2

# The gRPC services' full names, as health checks, reflection and method configs name them.
STORAGE_SERVICE = storage_pb2.DESCRIPTOR.services_by_name["TaskStoreService"].full_name
ANALYZER_SERVICE = analyzer_pb2.DESCRIPTOR.services_by_name["AnalyzerService"].full_name

# A task's statuses by their proto value: TASK_STATUS_QUEUED -> "queued", the text the table
# stores and the HTTP API shows.
STATUS_NAMES: dict[int, str] = {
    storage_pb2.TaskStatus.Value(name): name.removeprefix("TASK_STATUS_").lower()
    for name in storage_pb2.TaskStatus.keys()
    if name != "TASK_STATUS_UNSPECIFIED"
}
STATUS_VALUES: dict[str, int] = {name: value for value, name in STATUS_NAMES.items()}
# The analysis stages by their proto value: ANALYSIS_STAGE_DECODE -> "decode", as progress
# events name them.
STAGE_NAMES: dict[int, str] = {
    analyzer_pb2.AnalysisStage.Value(name): name.removeprefix("ANALYSIS_STAGE_").lower()
    for name in analyzer_pb2.AnalysisStage.keys()
    if name != "ANALYSIS_STAGE_UNSPECIFIED"
}

# The largest photo any service accepts (bytes): 20 MiB holds any phone camera's JPEG and a
# 12 MP PNG. The gateway's MAX_UPLOAD_BYTES may be lower, never higher (checked at start), and
# the analyzer's gRPC receive limit is set from it.
MAX_PHOTO_BYTES = 20 * 1024 * 1024
# The longest one AnalyzeFace call may run: the analyzer caps every call's deadline at this, and
# the gateway asks for no more per call (its ANALYSIS_TIMEOUT_SECONDS also covers waiting for a
# busy analyzer, over several calls).
MAX_ANALYSIS_CALL_SECONDS = 120.0

# The age a user may declare, in whole years.
MIN_DECLARED_AGE, MAX_DECLARED_AGE = 0, 130
DECLARED_AGE_RANGE = f"{MIN_DECLARED_AGE} to {MAX_DECLARED_AGE}"

# Magic numbers: a photo's format is decided by its content, never by a file name or a
# client's word.
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
)


def declared_age_problem(age: int | None) -> str | None:
    """What is wrong with a declared age, or None (no age is fine)."""
    if age is None or MIN_DECLARED_AGE <= age <= MAX_DECLARED_AGE:
        return None
    return f"must be between {MIN_DECLARED_AGE} and {MAX_DECLARED_AGE} years"


def sniff_format(data: bytes) -> str | None:
    """JPEG, PNG or WEBP by the file's first bytes; None for anything else."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None
