"""Reads a multipart upload in memory, refusing it (413) the moment it passes the limit.

Starlette would spool uploads over 1 MB to a temporary file; photos must never touch the disk,
so the gateway reads the body itself and parses it with python-multipart's streaming parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from gateway.errors import ApiError

MAX_FIELDS = 10
FORM_FIELD_LIMIT = 1024


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


async def read_form(request: Request, limit: int) -> Form:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in options:
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "send the photo as multipart/form-data")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)

    form = Form()
    parts: list[tuple[dict[bytes, bytes], bytearray]] = []
    state: dict[str, bytes] = {}

    def on_part_begin() -> None:
        parts.append(({}, bytearray()))
        if len(parts) > MAX_FIELDS:
            raise ApiError(400, "TOO_MANY_FIELDS", f"at most {MAX_FIELDS} form fields")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header"] = state.get("header", b"") + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] = state.get("value", b"") + data[start:end]

    def on_header_end() -> None:
        parts[-1][0][state.pop("header", b"").lower()] = state.pop("value", b"")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1][1].extend(data[start:end])

    parser = MultipartParser(
        options[b"boundary"],
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
        },
    )
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _too_large(limit)
        parser.write(chunk)
    parser.finalize()

    for headers, body in parts:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode(errors="replace")
        if b"filename" in disposition:
            form.files[name] = bytes(body)
        elif len(body) <= FORM_FIELD_LIMIT:
            form.fields[name] = body.decode(errors="replace")
    return form


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "IMAGE_TOO_LARGE",
        f"the upload is larger than {limit // 2**20} MiB; send the camera's JPEG",
    )
