"""Reads a multipart upload in memory, refusing it (413) the moment it passes the limit, and
refusing anything that is not a well-formed form of the expected fields (400).

Starlette would spool uploads over 1 MB to a temporary file; photos must never touch the disk,
so the gateway reads the body itself and parses it with python-multipart's streaming parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import Request

from gateway.errors import ApiError

MAX_PARTS = 4
MAX_PART_HEADERS = 8
MAX_PART_HEADER_BYTES = 8 * 1024
FORM_FIELD_LIMIT = 64  # bytes of a text field's value (real_age is a few digits)


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


def _bad_form(message: str, reason: str = "MALFORMED_FORM", field: str | None = None) -> ApiError:
    if field is None:
        return ApiError(400, reason, message)
    return ApiError(400, reason, message, field=field)


async def read_form(
    request: Request, limit: int, file_fields: frozenset[str], text_fields: frozenset[str]
) -> Form:
    """The form's files and text fields. Each name may appear once and must be one of the
    expected ones; a file field must carry a filename and a text field must not."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "send the photo as multipart/form-data")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)

    parts: list[tuple[dict[bytes, bytes], bytearray]] = []
    header: dict[str, bytes] = {}

    def on_part_begin() -> None:
        parts.append(({}, bytearray()))
        if len(parts) > MAX_PARTS:
            raise _bad_form(f"at most {MAX_PARTS} form fields", "TOO_MANY_FIELDS")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header["name"] = header.get("name", b"") + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header["value"] = header.get("value", b"") + data[start:end]

    def on_header_end() -> None:
        parts[-1][0][header.pop("name", b"").strip().lower()] = header.pop("value", b"").strip()

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
        max_header_count=MAX_PART_HEADERS,
        max_header_size=MAX_PART_HEADER_BYTES,
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise _too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise _bad_form(f"the multipart body is malformed: {_short(str(exc))}") from exc
    if parser.state != MultipartState.END:
        raise _bad_form("the multipart body is incomplete: its closing boundary is missing")
    return _collect(parts, file_fields, text_fields)


def _collect(
    parts: list[tuple[dict[bytes, bytes], bytearray]],
    file_fields: frozenset[str],
    text_fields: frozenset[str],
) -> Form:
    form = Form()
    for headers, body in parts:
        kind, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        raw_name = disposition.get(b"name")
        if kind != b"form-data" or raw_name is None:
            raise _bad_form("each part needs 'Content-Disposition: form-data; name=...'")
        name = raw_name.decode("utf-8", errors="replace")
        if name not in file_fields | text_fields:
            expected = ", ".join(sorted(file_fields | text_fields))
            raise _bad_form(
                f"{_short(name)}: not a field of this form (expected {expected})",
                "UNKNOWN_FIELD",
                field=_short(name),
            )
        if name in form.files or name in form.fields:
            raise _bad_form(f"{name}: given more than once", "DUPLICATE_FIELD", field=name)
        if name in file_fields:
            if b"filename" not in disposition:
                raise _bad_form(f"{name}: attach it as a file", "INVALID_FIELD", field=name)
            form.files[name] = bytes(body)
            continue
        if b"filename" in disposition:
            raise _bad_form(f"{name}: send it as a text field", "INVALID_FIELD", field=name)
        if len(body) > FORM_FIELD_LIMIT:
            raise _bad_form(
                f"{name}: at most {FORM_FIELD_LIMIT} bytes", "INVALID_FIELD", field=name
            )
        try:
            form.fields[name] = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _bad_form(f"{name}: must be UTF-8 text", "INVALID_FIELD", field=name) from exc
    return form


def _short(text: str, limit: int = 80) -> str:
    """Client text echoed in an error, bounded and printable."""
    printable = "".join(char if char.isprintable() else "?" for char in text[:limit])
    return printable + ("..." if len(text) > limit else "")


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "IMAGE_TOO_LARGE",
        f"the upload is larger than {limit // 2**20} MiB; send the camera's JPEG",
    )
