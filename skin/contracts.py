"""Rules of the API that more than one service checks, defined once: the age a user may declare
with a photo, and which bytes are a photo. The gateway, storage, the analyzer and skinctl import
them; the protos' comments and the page's form state the same range for their readers."""

from __future__ import annotations

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
