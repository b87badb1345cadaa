from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnalysisStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANALYSIS_STAGE_UNSPECIFIED: _ClassVar[AnalysisStage]
    ANALYSIS_STAGE_DECODE: _ClassVar[AnalysisStage]
    ANALYSIS_STAGE_QUALITY: _ClassVar[AnalysisStage]
    ANALYSIS_STAGE_LANDMARKS: _ClassVar[AnalysisStage]
    ANALYSIS_STAGE_REGIONS: _ClassVar[AnalysisStage]
    ANALYSIS_STAGE_METRICS: _ClassVar[AnalysisStage]
    ANALYSIS_STAGE_SCORES: _ClassVar[AnalysisStage]

class ResultEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESULT_ENCODING_UNSPECIFIED: _ClassVar[ResultEncoding]
    RESULT_ENCODING_STRUCT: _ClassVar[ResultEncoding]
    RESULT_ENCODING_JSON: _ClassVar[ResultEncoding]
ANALYSIS_STAGE_UNSPECIFIED: AnalysisStage
ANALYSIS_STAGE_DECODE: AnalysisStage
ANALYSIS_STAGE_QUALITY: AnalysisStage
ANALYSIS_STAGE_LANDMARKS: AnalysisStage
ANALYSIS_STAGE_REGIONS: AnalysisStage
ANALYSIS_STAGE_METRICS: AnalysisStage
ANALYSIS_STAGE_SCORES: AnalysisStage
RESULT_ENCODING_UNSPECIFIED: ResultEncoding
RESULT_ENCODING_STRUCT: ResultEncoding
RESULT_ENCODING_JSON: ResultEncoding

class AnalyzeFaceRequest(_message.Message):
    __slots__ = ("image", "real_age", "result_encoding")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REAL_AGE_FIELD_NUMBER: _ClassVar[int]
    RESULT_ENCODING_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    real_age: int
    result_encoding: ResultEncoding
    def __init__(self, image: _Optional[bytes] = ..., real_age: _Optional[int] = ..., result_encoding: _Optional[_Union[ResultEncoding, str]] = ...) -> None: ...

class AnalysisProgress(_message.Message):
    __slots__ = ("stage", "fraction", "message")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    stage: AnalysisStage
    fraction: float
    message: str
    def __init__(self, stage: _Optional[_Union[AnalysisStage, str]] = ..., fraction: _Optional[float] = ..., message: _Optional[str] = ...) -> None: ...

class AnalyzeFaceResponse(_message.Message):
    __slots__ = ("progress", "result", "result_json")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    progress: AnalysisProgress
    result: _struct_pb2.Struct
    result_json: str
    def __init__(self, progress: _Optional[_Union[AnalysisProgress, _Mapping]] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., result_json: _Optional[str] = ...) -> None: ...

class RecommendRoutineRequest(_message.Message):
    __slots__ = ("analysis", "intake", "real_age", "analysis_json", "intake_json", "routine_encoding")
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    INTAKE_FIELD_NUMBER: _ClassVar[int]
    REAL_AGE_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_JSON_FIELD_NUMBER: _ClassVar[int]
    INTAKE_JSON_FIELD_NUMBER: _ClassVar[int]
    ROUTINE_ENCODING_FIELD_NUMBER: _ClassVar[int]
    analysis: _struct_pb2.Struct
    intake: _struct_pb2.Struct
    real_age: int
    analysis_json: str
    intake_json: str
    routine_encoding: ResultEncoding
    def __init__(self, analysis: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., intake: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., real_age: _Optional[int] = ..., analysis_json: _Optional[str] = ..., intake_json: _Optional[str] = ..., routine_encoding: _Optional[_Union[ResultEncoding, str]] = ...) -> None: ...

class RecommendRoutineResponse(_message.Message):
    __slots__ = ("routine", "routine_json")
    ROUTINE_FIELD_NUMBER: _ClassVar[int]
    ROUTINE_JSON_FIELD_NUMBER: _ClassVar[int]
    routine: _struct_pb2.Struct
    routine_json: str
    def __init__(self, routine: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., routine_json: _Optional[str] = ...) -> None: ...
