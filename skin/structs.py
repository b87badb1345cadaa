"""JSON objects in protobuf Structs and back. Struct stores every number as a double; whole
numbers come back as ints, so counts and minutes stay integers in JSON and in jsonb."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2


def to_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def from_struct(message: struct_pb2.Struct) -> dict[str, Any]:
    value: dict[str, Any] = _whole_numbers(json_format.MessageToDict(message))
    return value


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


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value
