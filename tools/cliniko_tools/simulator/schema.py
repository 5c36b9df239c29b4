"""Vocabulary for declaring simulated Cliniko resources as data.

A resource is a :class:`ResourceDef`: its fields (how they are accepted, stored and rendered), the
filters its list endpoint accepts, the operations the official spec gives it and a few hooks for
behaviour that can't be expressed as data (derived fields, side effects, cross-field validation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cliniko_tools.simulator.behaviour import SimulatorBehaviour
from cliniko_tools.simulator.clock import SimClock

# Stored representation per kind: id/ref -> int, datetime -> int epoch seconds, date -> "YYYY-MM-DD",
# decimal -> str with two places, ids -> list[int], everything else as the JSON value.
Kind = Literal["str", "int", "float", "bool", "datetime", "date", "decimal", "json", "ref", "ids", "phones"]

# Filter value types as the spec's `q[]` tables name them.
FilterKind = Literal["int64", "integer", "date-time", "date", "string", "boolean", "array"]

Record = dict[str, Any]

OPS_CRUD = frozenset({"list", "get", "create", "update", "archive", "delete"})


@dataclass(frozen=True, slots=True)
class Field:
    """One attribute of a resource.

    ``name`` is the stored attribute; for references it ends in ``_id`` and renders as a link object
    under ``link`` (default: the name without ``_id``).
    """

    name: str
    kind: Kind = "str"
    api: bool = True  # writable through the public API
    render: bool = True
    target: str | None = None  # ref/ids: resource the id points at
    link: str | None = None
    choices: tuple[Any, ...] | None = None
    default: Any = None  # rendered when unset (must be immutable)
    max_length: int | None = None

    @property
    def out_key(self) -> str:
        if self.kind == "ref":
            return self.link or self.name.removesuffix("_id")
        return self.name


class RecordStore(Protocol):
    """What validation and after-write hooks may do to the store (store.Store is one): declared here, so the
    vocabulary of resources does not import the store that is built from it."""

    clock: SimClock
    behaviour: SimulatorBehaviour

    def find(self, resource: str, record_id: int | str | None) -> Record | None: ...

    def all_records(self, resource: str) -> list[Record]: ...

    def owner(self, resource: str, record_id: int) -> str | None: ...

    def set_fields(self, resource: str, record_id: int, values: Mapping[str, Any], *, touch: bool = True) -> Record: ...

    def insert_raw(self, resource: str, record: Record) -> Record: ...


@dataclass
class WriteContext:
    """What a validation hook sees: the merged record and the error sink."""

    store: RecordStore
    record: Record  # merged state after the write (mutable: hooks may set derived values)
    changes: Record  # coerced fields supplied by this write
    errors: dict[str, str]
    creating: bool
    staff: bool
    user_id: int | None = None

    def error(self, key: str, message: str) -> None:
        self.errors.setdefault(key, message)


ValidateHook = Callable[[WriteContext], None]
AfterWriteHook = Callable[[RecordStore, Record, Record | None], None]


@dataclass(frozen=True)
class ResourceDef:
    """A Cliniko resource: how it is stored, validated, filtered and rendered."""

    name: str  # path segment and list wrapper key
    fields: tuple[Field, ...]
    filters: Mapping[str, FilterKind]
    ops: frozenset[str] = OPS_CRUD
    get_filters: tuple[str, ...] = ("archived_at",)
    required: tuple[str, ...] = ()
    update_fields: tuple[str, ...] | None = None  # API PATCH may only touch these (None = all api fields)
    sequence: str | None = None  # id sequence shared with other resources (bookings share one)
    collections: tuple[tuple[str, str], ...] = ()  # (out key, path template with {id})
    hide: tuple[str, ...] = ("archived_at",)  # non-null hides the record from default lists
    filter_attrs: Mapping[str, str] = field(default_factory=dict)  # filter name -> attribute
    validate: ValidateHook | None = None
    after_write: AfterWriteHook | None = None
    union_of: tuple[str, ...] = ()  # read-only view over other resources (bookings)

    def field_map(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @property
    def seq(self) -> str:
        return self.sequence or self.name


@dataclass(frozen=True)
class ListRoute:
    """A list endpoint: ``/{resource}`` or a nested one such as ``/patients/{id}/medical_alerts``.

    ``child_attr``: the child's attribute that must equal (or, for an ``ids`` attribute, contain)
    the parent id. ``parent_attr``: the parent's ``ids`` attribute listing the children.
    ``scope``: an extra fixed condition (attribute, value), e.g. practitioners' ``active``.
    """

    resource: str
    parent: str | None = None
    child_attr: str | None = None
    parent_attr: str | None = None
    suffix: str = ""  # e.g. "inactive"
    scope: tuple[str, Any] | None = None
    exclude_filters: tuple[str, ...] = ()


class ValidationFailed(Exception):
    """A write was refused; renders as Cliniko's 422 body."""

    def __init__(self, errors: Mapping[str, str] | None = None, message: str = "Validation Failed") -> None:
        self.errors = dict(errors or {})
        self.message = message
        super().__init__(f"{message}: {self.errors}" if self.errors else message)

    def body(self) -> dict[str, Any]:
        if not self.errors:
            return {"message": self.message}
        return {"message": self.message, "errors": self.errors}
