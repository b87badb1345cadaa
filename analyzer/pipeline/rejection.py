"""The error a photo is refused with: INVALID_ARGUMENT, a reason, and every failed rule."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from skin.errors import ServiceError


@dataclass(frozen=True)
class Failure:
    """One failed rule: a machine reason, the measured figure, and a fix a person can follow."""

    reason: str
    detail: str
    fix: str


class PhotoRejected(ServiceError):
    """The photo cannot be judged. `reason` is the first failure; metadata lists them all."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "PHOTO_REJECTED"


def reject(*failures: Failure) -> PhotoRejected:
    message = "; ".join(f"{f.detail} — {f.fix}" for f in failures)
    metadata = {f.reason: f"{f.detail} — {f.fix}" for f in failures}
    metadata["reasons"] = ",".join(f.reason for f in failures)
    return PhotoRejected(message, reason=failures[0].reason, **metadata)
