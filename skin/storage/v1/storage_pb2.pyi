import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATUS_UNSPECIFIED: _ClassVar[TaskStatus]
    TASK_STATUS_QUEUED: _ClassVar[TaskStatus]
    TASK_STATUS_RUNNING: _ClassVar[TaskStatus]
    TASK_STATUS_SUCCEEDED: _ClassVar[TaskStatus]
    TASK_STATUS_FAILED: _ClassVar[TaskStatus]

class TaskView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_VIEW_UNSPECIFIED: _ClassVar[TaskView]
    TASK_VIEW_BASIC: _ClassVar[TaskView]
    TASK_VIEW_FULL: _ClassVar[TaskView]
    TASK_VIEW_JSON: _ClassVar[TaskView]
TASK_STATUS_UNSPECIFIED: TaskStatus
TASK_STATUS_QUEUED: TaskStatus
TASK_STATUS_RUNNING: TaskStatus
TASK_STATUS_SUCCEEDED: TaskStatus
TASK_STATUS_FAILED: TaskStatus
TASK_VIEW_UNSPECIFIED: TaskView
TASK_VIEW_BASIC: TaskView
TASK_VIEW_FULL: TaskView
TASK_VIEW_JSON: TaskView

class Task(_message.Message):
    __slots__ = ("id", "user_id", "status", "result", "error", "real_age", "intake", "routine", "create_time", "update_time", "result_json", "intake_json", "routine_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REAL_AGE_FIELD_NUMBER: _ClassVar[int]
    INTAKE_FIELD_NUMBER: _ClassVar[int]
    ROUTINE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    INTAKE_JSON_FIELD_NUMBER: _ClassVar[int]
    ROUTINE_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    status: TaskStatus
    result: _struct_pb2.Struct
    error: str
    real_age: int
    intake: _struct_pb2.Struct
    routine: _struct_pb2.Struct
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    result_json: str
    intake_json: str
    routine_json: str
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error: _Optional[str] = ..., real_age: _Optional[int] = ..., intake: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., routine: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., result_json: _Optional[str] = ..., intake_json: _Optional[str] = ..., routine_json: _Optional[str] = ...) -> None: ...

class TaskProgress(_message.Message):
    __slots__ = ("stage", "fraction", "message")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    stage: str
    fraction: float
    message: str
    def __init__(self, stage: _Optional[str] = ..., fraction: _Optional[float] = ..., message: _Optional[str] = ...) -> None: ...

class CreateTaskRequest(_message.Message):
    __slots__ = ("user_id", "real_age", "idempotency_key", "request_fingerprint")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    REAL_AGE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    real_age: int
    idempotency_key: str
    request_fingerprint: str
    def __init__(self, user_id: _Optional[str] = ..., real_age: _Optional[int] = ..., idempotency_key: _Optional[str] = ..., request_fingerprint: _Optional[str] = ...) -> None: ...

class CreateTaskResponse(_message.Message):
    __slots__ = ("task", "created")
    TASK_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    task: Task
    created: bool
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("user_id", "task_id", "view")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    task_id: str
    view: TaskView
    def __init__(self, user_id: _Optional[str] = ..., task_id: _Optional[str] = ..., view: _Optional[_Union[TaskView, str]] = ...) -> None: ...

class GetTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("user_id", "page_size", "page_token", "view")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page_size: int
    page_token: str
    view: TaskView
    def __init__(self, user_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., view: _Optional[_Union[TaskView, str]] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    next_page_token: str
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateTaskRequest(_message.Message):
    __slots__ = ("user_id", "task_id", "status", "result", "error", "view", "result_json")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    task_id: str
    status: TaskStatus
    result: _struct_pb2.Struct
    error: str
    view: TaskView
    result_json: str
    def __init__(self, user_id: _Optional[str] = ..., task_id: _Optional[str] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error: _Optional[str] = ..., view: _Optional[_Union[TaskView, str]] = ..., result_json: _Optional[str] = ...) -> None: ...

class UpdateTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class SetIntakeRequest(_message.Message):
    __slots__ = ("user_id", "task_id", "intake", "view")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    INTAKE_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    task_id: str
    intake: _struct_pb2.Struct
    view: TaskView
    def __init__(self, user_id: _Optional[str] = ..., task_id: _Optional[str] = ..., intake: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., view: _Optional[_Union[TaskView, str]] = ...) -> None: ...

class SetIntakeResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class SetRoutineRequest(_message.Message):
    __slots__ = ("user_id", "task_id", "routine", "intake", "view", "routine_json", "intake_json")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTINE_FIELD_NUMBER: _ClassVar[int]
    INTAKE_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    ROUTINE_JSON_FIELD_NUMBER: _ClassVar[int]
    INTAKE_JSON_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    task_id: str
    routine: _struct_pb2.Struct
    intake: _struct_pb2.Struct
    view: TaskView
    routine_json: str
    intake_json: str
    def __init__(self, user_id: _Optional[str] = ..., task_id: _Optional[str] = ..., routine: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., intake: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., view: _Optional[_Union[TaskView, str]] = ..., routine_json: _Optional[str] = ..., intake_json: _Optional[str] = ...) -> None: ...

class SetRoutineResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: Task
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ...) -> None: ...

class DeleteTaskRequest(_message.Message):
    __slots__ = ("user_id", "task_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    task_id: str
    def __init__(self, user_id: _Optional[str] = ..., task_id: _Optional[str] = ...) -> None: ...

class DeleteTaskResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchTaskRequest(_message.Message):
    __slots__ = ("user_id", "task_id", "view")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    task_id: str
    view: TaskView
    def __init__(self, user_id: _Optional[str] = ..., task_id: _Optional[str] = ..., view: _Optional[_Union[TaskView, str]] = ...) -> None: ...

class WatchTaskResponse(_message.Message):
    __slots__ = ("task", "progress")
    TASK_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    task: Task
    progress: TaskProgress
    def __init__(self, task: _Optional[_Union[Task, _Mapping]] = ..., progress: _Optional[_Union[TaskProgress, _Mapping]] = ...) -> None: ...

class PublishProgressRequest(_message.Message):
    __slots__ = ("user_id", "task_id", "progress")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    task_id: str
    progress: TaskProgress
    def __init__(self, user_id: _Optional[str] = ..., task_id: _Optional[str] = ..., progress: _Optional[_Union[TaskProgress, _Mapping]] = ...) -> None: ...

class PublishProgressResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnqueueWebhookRequest(_message.Message):
    __slots__ = ("message_id", "event", "user_id", "body")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    event: str
    user_id: str
    body: str
    def __init__(self, message_id: _Optional[str] = ..., event: _Optional[str] = ..., user_id: _Optional[str] = ..., body: _Optional[str] = ...) -> None: ...

class EnqueueWebhookResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClaimWebhooksRequest(_message.Message):
    __slots__ = ("max_messages", "lease_seconds")
    MAX_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    LEASE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    max_messages: int
    lease_seconds: int
    def __init__(self, max_messages: _Optional[int] = ..., lease_seconds: _Optional[int] = ...) -> None: ...

class WebhookDelivery(_message.Message):
    __slots__ = ("message_id", "body", "attempt", "create_time")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    body: str
    attempt: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, message_id: _Optional[str] = ..., body: _Optional[str] = ..., attempt: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ClaimWebhooksResponse(_message.Message):
    __slots__ = ("deliveries",)
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[WebhookDelivery]
    def __init__(self, deliveries: _Optional[_Iterable[_Union[WebhookDelivery, _Mapping]]] = ...) -> None: ...

class FinishWebhookRequest(_message.Message):
    __slots__ = ("message_id", "delivered", "error", "retry_after_seconds")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    delivered: bool
    error: str
    retry_after_seconds: float
    def __init__(self, message_id: _Optional[str] = ..., delivered: _Optional[bool] = ..., error: _Optional[str] = ..., retry_after_seconds: _Optional[float] = ...) -> None: ...

class FinishWebhookResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
