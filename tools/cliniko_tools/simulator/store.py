"""The in-memory Cliniko database: tables, id sequences, validated writes and indexed list queries."""

from __future__ import annotations

import bisect
import random
import re
import threading
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from cliniko_tools.simulator.behaviour import SimulatorBehaviour
from cliniko_tools.simulator.clock import SimClock
from cliniko_tools.simulator.query import Filter, Predicate, compile_filter, parse_filter, sort_records
from cliniko_tools.simulator.schema import (
    Field,
    ListRoute,
    Record,
    ResourceDef,
    ValidationFailed,
    WriteContext,
)
from cliniko_tools.simulator.timefmt import parse_date, parse_datetime

_ID_BASE = 1_000_000_000_000_000_000  # well past 2**53, as real Cliniko ids are
_PHONE_TYPES = frozenset({"Fax", "Home", "Mobile", "Other", "Work"})
_SYSTEM_FIELDS = frozenset({"id", "created_at", "updated_at"})
_CACHE_LIMIT = 64


class NotFound(KeyError):
    """No such record (or it is hidden from this request)."""


@dataclass
class Table:
    """One resource's rows plus the sorted (timestamp, id) indexes list queries range over."""

    rdef: ResourceDef
    rows: dict[int, Record]
    by_created: list[tuple[int, int]]
    by_updated: list[tuple[int, int]]
    nonnull: dict[str, int]  # per hiding field: rows where it is set (0 lets queries skip the check)
    version: int = 0


@dataclass(frozen=True)
class Page:
    """One page of a list query and the total number of matches."""

    total: int
    records: list[Record]


class Store:
    """Thread-safe store for every simulated resource.

    Records are plain dicts replaced (never mutated) on write, so a page taken under the lock can be
    rendered after releasing it.
    """

    def __init__(self, resources: Mapping[str, ResourceDef], clock: SimClock) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.behaviour = SimulatorBehaviour()
        self.resources = dict(resources)
        self.tables: dict[str, Table] = {
            name: Table(rdef, {}, [], [], dict.fromkeys(rdef.hide, 0))
            for name, rdef in resources.items()
            if not rdef.union_of
        }
        self._fields = {name: rdef.field_map() for name, rdef in resources.items()}
        self._sequences: dict[str, list[int]] = {}
        self._sequence_rng: dict[str, random.Random] = {}
        self._cache: dict[tuple[Any, ...], tuple[tuple[int, ...], list[Record]]] = {}

    # ----------------------------------------------------------------- ids

    def next_id(self, sequence: str) -> int:
        with self.lock:
            state = self._sequences.get(sequence)
            if state is None:
                # Deterministic per sequence, and far apart so ids of different resources don't meet.
                state = [_ID_BASE + (zlib.crc32(sequence.encode()) % 4096) * 10**15]
                self._sequences[sequence] = state
                self._sequence_rng[sequence] = random.Random(sequence)
            state[0] += self._sequence_rng[sequence].randint(1, 997)
            return state[0]

    def _seen_id(self, sequence: str, record_id: int) -> None:
        state = self._sequences.get(sequence)
        if state is not None and record_id > state[0]:
            state[0] = record_id

    # ----------------------------------------------------------------- reads

    def table(self, resource: str) -> Table:
        try:
            return self.tables[resource]
        except KeyError:
            raise NotFound(resource) from None

    def source_tables(self, resource: str) -> list[Table]:
        rdef = self.resources.get(resource)
        if rdef is None:
            raise NotFound(resource)
        if rdef.union_of:
            return [self.tables[name] for name in rdef.union_of]
        return [self.tables[resource]]

    def find(self, resource: str, record_id: int | str | None) -> Record | None:
        """A record by id, archived or not (None when absent)."""
        rid = _as_int(record_id)
        if rid is None:
            return None
        with self.lock:
            for table in self.source_tables(resource):
                rec = table.rows.get(rid)
                if rec is not None:
                    return rec
        return None

    def owner(self, resource: str, record_id: int) -> str | None:
        """For a union resource (bookings): which source resource holds this id."""
        with self.lock:
            for table in self.source_tables(resource):
                if record_id in table.rows:
                    return table.rdef.name
        return None

    def count(self, resource: str) -> int:
        with self.lock:
            return sum(len(t.rows) for t in self.source_tables(resource))

    def all_records(self, resource: str) -> list[Record]:
        """Every record in created order."""
        with self.lock:
            out: list[Record] = []
            for table in self.source_tables(resource):
                out.extend(table.rows[rid] for _, rid in table.by_created)
            return out

    def get_visible(self, resource: str, record_id: str, q: Iterable[str] = ()) -> Record:
        """GET /{resource}/{id}: hidden (archived/cancelled) records need the matching ``q[]``."""
        rdef = self.resources[resource]
        allowed = {name: kind for name, kind in rdef.filters.items() if name in rdef.get_filters}
        for name in rdef.get_filters:
            allowed.setdefault(name, "date-time")
        filters = [self._folded(parse_filter(raw, allowed, rdef.filter_attrs)) for raw in q]
        rec = self.find(resource, record_id)
        if rec is None:
            raise NotFound(record_id)
        mentioned = {f.attr for f in filters}
        for attr in rdef.hide:
            if attr not in mentioned and rec.get(attr) is not None:
                raise NotFound(record_id)
        for f in filters:
            pred = compile_filter(f)
            if pred is not None and not pred(rec):
                raise NotFound(record_id)
        return rec

    def query(
        self,
        route: ListRoute,
        q: Iterable[str],
        sort_keys: tuple[tuple[str, bool], ...],
        page: int,
        per_page: int,
        parent_id: int | None = None,
    ) -> Page:
        """Filter, sort and page a list endpoint."""
        rdef = self.resources[route.resource]
        allowed = {k: v for k, v in rdef.filters.items() if k not in route.exclude_filters}
        filters = [self._folded(parse_filter(raw, allowed, rdef.filter_attrs)) for raw in q]
        offset = (page - 1) * per_page
        with self.lock:
            tables = self.source_tables(route.resource)
            fixed = self._route_predicates(route, parent_id)
            hide_preds = self._hiding(tables, rdef, filters)
            # Fast path: a plain (possibly updated_at/created_at-ranged) scan in index order needs
            # no filtering or sorting at all: count and slice the index directly.
            if len(tables) == 1 and not fixed and not hide_preds:
                fast = self._index_slice(tables[0], filters, sort_keys, offset, per_page)
                if fast is not None:
                    return fast
            key = (route, parent_id, tuple(q), sort_keys, self.behaviour.case_insensitive_equals)
            versions = tuple(t.version for t in tables) + self._parent_version(route)
            cached = self._cache.get(key)
            if cached is not None and cached[0] == versions:
                matched = cached[1]
            else:
                matched = self._scan(tables, filters, fixed + hide_preds, sort_keys)
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = (versions, matched)
            return Page(len(matched), matched[offset : offset + per_page])

    def _folded(self, f: Filter) -> Filter:
        """A string `=` as a case-insensitive exact match when the behaviour says so (compiled as `~~`)."""
        if not self.behaviour.case_insensitive_equals or f.kind != "string" or f.op != "=":
            return f
        exact = re.compile("^" + re.escape(str(f.value)) + "$", re.IGNORECASE | re.DOTALL)
        return Filter(f.name, f.attr, f.kind, "~~", exact)

    def _parent_version(self, route: ListRoute) -> tuple[int, ...]:
        if route.parent is None or route.parent_attr is None:
            return ()
        return tuple(t.version for t in self.source_tables(route.parent))

    def _route_predicates(self, route: ListRoute, parent_id: int | None) -> list[Predicate]:
        preds: list[Predicate] = []
        if route.scope is not None:
            attr, wanted = route.scope
            preds.append(lambda r: r.get(attr) == wanted)
        if parent_id is not None and route.child_attr is not None:
            child_attr = route.child_attr
            kind = self._fields[route.resource].get(child_attr)
            if kind is not None and kind.kind == "ids":
                preds.append(lambda r: parent_id in (r.get(child_attr) or ()))
            else:
                preds.append(lambda r: r.get(child_attr) == parent_id)
        if parent_id is not None and route.parent_attr is not None and route.parent is not None:
            parent = self.find(route.parent, parent_id) or {}
            members = frozenset(parent.get(route.parent_attr) or ())
            preds.append(lambda r: r["id"] in members)
        return preds

    @staticmethod
    def _hiding(tables: list[Table], rdef: ResourceDef, filters: list[Filter]) -> list[Predicate]:
        mentioned = {f.attr for f in filters}
        preds: list[Predicate] = []
        for attr in rdef.hide:
            if attr in mentioned:
                continue
            if any(t.nonnull.get(attr, 0) for t in tables):
                preds.append(lambda r, a=attr: r.get(a) is None)  # type: ignore[misc]
        return preds

    @staticmethod
    def _index_for(filters: list[Filter]) -> str:
        for f in filters:
            if f.range_bounds() is not None and f.attr in {"updated_at", "created_at"}:
                return f.attr
        return "created_at"

    @staticmethod
    def _bounds(index: list[tuple[int, int]], attr: str, filters: list[Filter]) -> tuple[int, int]:
        lo, hi = 0, len(index)
        for f in filters:
            bounds = f.range_bounds() if f.attr == attr else None
            if bounds is None:
                continue
            low, high, low_incl, high_incl = bounds
            if low is not None:
                lo = max(lo, bisect.bisect_left(index, (low if low_incl else low + 1, -1)))
            if high is not None:
                hi = min(hi, bisect.bisect_left(index, (high + 1 if high_incl else high, -1)))
        return lo, max(lo, hi)

    def _index_slice(
        self,
        table: Table,
        filters: list[Filter],
        sort_keys: tuple[tuple[str, bool], ...],
        offset: int,
        per_page: int,
    ) -> Page | None:
        attr = self._index_for(filters)
        if sort_keys != ((attr, False),):
            return None
        for f in filters:
            if f.attr == attr and f.range_bounds() is not None:
                continue
            if compile_filter(f) is not None:
                return None
        index = table.by_updated if attr == "updated_at" else table.by_created
        lo, hi = self._bounds(index, attr, filters)
        start = lo + offset
        chunk = index[start : min(hi, start + per_page)] if start < hi else []
        return Page(hi - lo, [table.rows[rid] for _, rid in chunk])

    def _scan(
        self,
        tables: list[Table],
        filters: list[Filter],
        extra: list[Predicate],
        sort_keys: tuple[tuple[str, bool], ...],
    ) -> list[Record]:
        attr = self._index_for(filters)
        preds = list(extra)
        for f in filters:
            if len(tables) == 1 and f.attr == attr and f.range_bounds() is not None:
                continue  # answered by the index range below
            pred = compile_filter(f)
            if pred is not None:
                preds.append(pred)
        candidates: list[Record] = []
        for table in tables:
            index = table.by_updated if attr == "updated_at" else table.by_created
            lo, hi = self._bounds(index, attr, filters) if len(tables) == 1 else (0, len(index))
            rows = table.rows
            candidates.extend(rows[rid] for _, rid in index[lo:hi])
        if preds:
            candidates = [r for r in candidates if all(p(r) for p in preds)]
        if len(tables) == 1 and sort_keys == ((attr, False),):
            return candidates  # index order is (attr, id) ascending already
        return sort_records(candidates, sort_keys)

    # ----------------------------------------------------------------- writes

    def create(self, resource: str, body: Any, *, staff: bool = False, user_id: int | None = None) -> Record:
        return self._write(resource, body, None, staff=staff, user_id=user_id)

    def update(
        self, resource: str, record_id: str | int, body: Any, *, staff: bool = False, user_id: int | None = None
    ) -> Record:
        rid = _as_int(record_id)
        if rid is None:
            raise NotFound(record_id)
        return self._write(resource, body, rid, staff=staff, user_id=user_id)

    def set_fields(self, resource: str, record_id: int, values: Mapping[str, Any], *, touch: bool = True) -> Record:
        """Internal write without validation (state transitions, derived values)."""
        with self.lock:
            table = self.table(resource)
            old = table.rows.get(record_id)
            if old is None:
                raise NotFound(record_id)
            rec = _compact({**old, **values})
            if rec == old:
                return old
            if touch:
                rec["updated_at"] = self.clock.now_epoch()
            self._commit(table, rec, old)
            return rec

    def purge(self, resource: str, record_id: int) -> None:
        """Remove a record without a trace (no `archived_at`, no `deleted_at`): what deleting an availability
        block in Cliniko's UI does, as far as its list shows."""
        with self.lock:
            table = self.table(resource)
            old = table.rows.pop(record_id, None)
            if old is None:
                raise NotFound(record_id)
            _discard(table.by_updated, (old["updated_at"], record_id))
            _discard(table.by_created, (old["created_at"], record_id))
            for attr in table.nonnull:
                table.nonnull[attr] -= int(old.get(attr) is not None)
            table.version += 1

    def insert_raw(self, resource: str, record: Record) -> Record:
        """Load a record as-is (seeds): ids and timestamps may be given, else generated."""
        with self.lock:
            table = self.table(resource)
            rec = _compact(dict(record))
            if rec.get("id") is None:
                rec["id"] = self.next_id(table.rdef.seq)
            else:
                rec["id"] = int(rec["id"])
                self._seen_id(table.rdef.seq, rec["id"])
            now = self.clock.now_epoch()
            rec.setdefault("created_at", now)
            rec.setdefault("updated_at", rec["created_at"])
            old = table.rows.get(rec["id"])
            self._commit(table, rec, old)
            return rec

    def bulk_load(self, resource: str, records: Iterable[Record]) -> None:
        """Append many fresh records quickly (indexes sorted once at the end)."""
        with self.lock:
            table = self.table(resource)
            for record in records:
                rec = _compact(record)
                rid = rec["id"]
                table.rows[rid] = rec
                table.by_created.append((rec["created_at"], rid))
                table.by_updated.append((rec["updated_at"], rid))
                for attr in table.nonnull:
                    if rec.get(attr) is not None:
                        table.nonnull[attr] += 1
            table.by_created.sort()
            table.by_updated.sort()
            table.version += 1

    def _write(self, resource: str, body: Any, record_id: int | None, *, staff: bool, user_id: int | None) -> Record:
        if not isinstance(body, dict):
            raise ValidationFailed(message="must be an object")
        with self.lock:
            table = self.table(resource)
            rdef = table.rdef
            old = None
            if record_id is not None:
                old = table.rows.get(record_id)
                if old is None:
                    raise NotFound(record_id)
            creating = old is None
            fields = self._fields[resource]
            errors: dict[str, str] = {}
            changes: Record = {}
            writable = self._writable(rdef, creating=creating, staff=staff or self.behaviour.read_only_writes)
            for key, value in body.items():
                f = fields.get(key)
                if f is None or key not in writable:
                    # Not in the spec's request body: refused, so a client relying on it fails here rather
                    # than against a Cliniko that may drop it silently.
                    errors[str(key)] = "is not accepted by this endpoint"
                    continue
                coerced = self._coerce(f, value, errors)
                if f.name not in errors:
                    changes[f.name] = coerced
            rec: Record = {**(old or {}), **changes}
            for name in rdef.required:
                if name in errors or fields[name].out_key in errors:
                    continue  # already reported (e.g. "must exist")
                if (creating or name in changes) and rec.get(name) in (None, "", []):
                    errors[name] = "can't be blank"
            ctx = WriteContext(self, rec, changes, errors, creating, staff, user_id)
            if rdef.validate is not None:
                rdef.validate(ctx)
            if errors:
                raise ValidationFailed(errors)
            rec = _compact(ctx.record)
            now = self.clock.now_epoch()
            if creating:
                rec["id"] = self.next_id(rdef.seq)
                rec["created_at"] = now
                rec["updated_at"] = now
            elif rec == old:
                return old  # nothing changed: Rails doesn't touch updated_at
            else:
                rec["updated_at"] = now
            self._commit(table, rec, old)
            if rdef.after_write is not None:
                rdef.after_write(self, rec, old)
            return table.rows[rec["id"]]

    @staticmethod
    def _writable(rdef: ResourceDef, *, creating: bool, staff: bool) -> set[str]:
        if staff:
            return {f.name for f in rdef.fields} - _SYSTEM_FIELDS
        names = {f.name for f in rdef.fields if f.api}
        if not creating and rdef.update_fields is not None:
            names &= set(rdef.update_fields)
        return names

    def _commit(self, table: Table, rec: Record, old: Record | None) -> None:
        rid = rec["id"]
        if old is not None:
            _discard(table.by_updated, (old["updated_at"], rid))
            if old["created_at"] != rec["created_at"]:
                _discard(table.by_created, (old["created_at"], rid))
                bisect.insort(table.by_created, (rec["created_at"], rid))
        else:
            bisect.insort(table.by_created, (rec["created_at"], rid))
        bisect.insort(table.by_updated, (rec["updated_at"], rid))
        for attr in table.nonnull:
            was = old is not None and old.get(attr) is not None
            table.nonnull[attr] += int(rec.get(attr) is not None) - int(was)
        table.rows[rid] = rec
        table.version += 1

    # ----------------------------------------------------------------- coercion

    def _coerce(self, f: Field, value: Any, errors: dict[str, str]) -> Any:
        """JSON input to the stored form; records an error under the field name when invalid."""
        if value is None:
            return None
        kind = f.kind
        try:
            if kind == "str":
                if not isinstance(value, str):
                    raise ValueError
                if f.max_length is not None and len(value) > f.max_length:
                    errors[f.name] = f"is too long (maximum is {f.max_length} characters)"
                    return None
                out: Any = value
            elif kind == "int":
                out = _strict_int(value)
            elif kind == "float":
                if isinstance(value, bool) or not isinstance(value, int | float | str):
                    raise ValueError
                out = float(value)
            elif kind == "bool":
                out = _strict_bool(value)
            elif kind == "datetime":
                if not isinstance(value, str):
                    raise ValueError
                out = parse_datetime(value)
            elif kind == "date":
                if not isinstance(value, str):
                    raise ValueError
                out = parse_date(value)
            elif kind == "decimal":
                out = money(value)
            elif kind == "json":
                if not isinstance(value, dict | list):
                    raise ValueError
                out = value
            elif kind == "ref":
                rid = _strict_int(value)
                if f.target in self.resources and self.find(f.target, rid) is None:
                    errors[f.out_key] = "must exist"
                    return None
                out = rid
            elif kind == "ids":
                if not isinstance(value, list):
                    raise ValueError
                ids = [_strict_int(v) for v in value]
                if f.target in self.resources and any(self.find(f.target, i) is None for i in ids):
                    errors[f.name] = "must exist"
                    return None
                out = ids
            elif kind == "phones":
                out = _phones(value)
            else:  # pragma: no cover - Kind is a closed Literal
                raise ValueError
        except (ValueError, TypeError, InvalidOperation):
            errors[f.name] = "is invalid"
            return None
        if f.choices is not None and out not in f.choices:
            errors[f.name] = "is not included in the list"
            return None
        return out


def money(value: Any) -> str:
    """Cliniko sends money as decimal strings with two places."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(value)
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def _strict_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(value)


def _strict_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "1", 1):
        return True
    if value in ("false", "0", 0):
        return False
    raise ValueError(value)


def _phones(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise ValueError(value)
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("number"), str):
            raise ValueError(item)
        phone_type = item.get("phone_type") or "Mobile"
        if phone_type not in _PHONE_TYPES:
            raise ValueError(item)
        number = item["number"]
        normalized = "".join(ch for ch in number if ch.isdigit() or ch == "+")
        out.append({"number": number, "phone_type": phone_type, "normalized_number": normalized})
    return out


def _as_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _compact(rec: Record) -> Record:
    # Unset attributes aren't stored: at 100k+ records the Nones would dominate memory.
    return {k: v for k, v in rec.items() if v is not None}


def _discard(index: list[tuple[int, int]], item: tuple[int, int]) -> None:
    pos = bisect.bisect_left(index, item)
    if pos < len(index) and index[pos] == item:
        del index[pos]
