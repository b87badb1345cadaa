"""JSON objects in protobuf Structs and back. Struct stores every number as a double; whole
numbers come back as ints, so counts and minutes stay integers in JSON and in jsonb."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import struct_pb2

from skin.errors import InvalidArgument


def to_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def from_struct(message: struct_pb2.Struct) -> dict[str, Any]:
    # Walked directly rather than through json_format.MessageToDict, whose generic printer
    # was a third of the gateway's time on GET /tasks/{id} (a result has ~1,500 values).
    return {key: _from_value(item) for key, item in message.fields.items()}


def _from_value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return {key: _from_value(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_from_value(item) for item in value.list_value.values]
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None  # null_value, or no kind set


def compact_json(value: Any) -> str:
    """A JSON document as this project sends and stores it as text: compact, UTF-8 unescaped."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def request_document(message: Any, field: str) -> tuple[dict[str, Any], str | None] | None:
    """The JSON object a request carries as the Struct `field` or as text in `<field>_json`
    (not both): the object and the text as sent (None when it came as a Struct), or None when
    neither is set. A refusal is INVALID_ARGUMENT naming the field."""
    text = getattr(message, f"{field}_json", "")
    if text and message.HasField(field):
        raise InvalidArgument(f"{field}_json", f"send {field} once: as a Struct or as JSON text")
    if text:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise InvalidArgument(f"{field}_json", f"must be JSON text: {exc}") from exc
        if not isinstance(value, dict):
            raise InvalidArgument(f"{field}_json", "must be a JSON object")
        return value, text
    if message.HasField(field):
        return from_struct(getattr(message, field)), None
    return None


def storable_text_problem(value: Any, path: str = "") -> str | None:
    """Where a JSON value holds text PostgreSQL cannot store (a NUL character, which jsonb and
    text refuse), or None. Keys count too."""
    if isinstance(value, str):
        return path or "value" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            problem = storable_text_problem(item, where)
            if problem:
                return problem
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = storable_text_problem(item, f"{path}[{index}]")
            if problem:
                return problem
    return None
