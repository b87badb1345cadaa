"""JSON documents through protobuf Structs and back: the same JSON, with whole numbers as ints
(a Struct keeps every number as a double)."""

from __future__ import annotations

import json

from google.protobuf import json_format

from skin.structs import from_struct, to_struct

DOCUMENT = {
    "schema_version": "2.3",
    "count": 3,
    "ratio": 0.25,
    "negative": -7,
    "big": 2**40,
    "flag": False,
    "nothing": None,
    "nested": {"list": [1, 2.5, "x", None, True, {"deep": [[]]}], "empty": {}},
    "text": "línea\n«quoted»",
}


def test_round_trip_keeps_the_json_and_whole_numbers():
    back = from_struct(to_struct(DOCUMENT))
    assert back == DOCUMENT
    assert isinstance(back["count"], int) and isinstance(back["ratio"], float)
    assert json.dumps(back, sort_keys=True) == json.dumps(DOCUMENT, sort_keys=True)


def test_agrees_with_protobufs_own_json_printer():
    message = to_struct(DOCUMENT)
    printed = json_format.MessageToDict(message)  # numbers as floats
    assert json.loads(json.dumps(from_struct(message))) == json.loads(json.dumps(printed))
