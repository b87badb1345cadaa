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


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value
