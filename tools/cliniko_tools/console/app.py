"""The console's Flask application: five pages over a `ConsoleBackend`, and what guards them.

Guards (docs/security.md, "The console"):
- every page needs the session cookie that opening the address the command printed (`/login?key=…`, a key of its
  own, not the write token) sets (HttpOnly, SameSite=Strict): another user of the machine, who can reach
  127.0.0.1 too, reads nothing;
- every request must name this server in its Host header (`127.0.0.1:PORT` or `localhost:PORT`): a page of
  another site that re-binds its name to 127.0.0.1 (DNS rebinding) sends its own name and is refused;
- every POST from a browser must come from this origin (Origin, else Referer, else Sec-Fetch-Site);
- every write (redrive, enable/disable a connection or a trigger) needs the token the command printed, sent in the
  form (or the X-Console-Token header; never a cookie, which a browser would add to a forged request), compared in
  constant time, and an explicit confirmation;
- a strict Content-Security-Policy (only this server's own script and style, no inline script), no framing, no
  referrer to other sites, nothing cached; Jinja2 autoescapes everything the pages show.
Patient data: a connection in `minimal` payload mode shows only an event's envelope, even for an event that was
archived in `full` mode.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, abort, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from cliniko_connector.catalog.triggers import TRIGGERS
from cliniko_connector.errors import ConnectorError
from cliniko_connector.models import ConnectionStatus, PayloadMode
from cliniko_connector.timeutil import to_z, utc_now
from cliniko_connector.usecases.status import HOUR, ConnectionReport, allowed_by_kind, hint_for, hour_start
from cliniko_tools.console.backend import ConsoleBackend
from cliniko_tools.console.charts import Chart, bar_chart

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SESSION_COOKIE = "console_session"
TOKEN_HEADER = "X-Console-Token"  # noqa: S105 (a header name)
# What an event's detail shows in `minimal` mode: its envelope, no record field (`data`, `previous`, `input`,
# `result` and `error` may all hold patient data).
ENVELOPE_FIELDS = (
    "schema_version",
    "trigger",
    "connection_id",
    "resource",
    "id",
    "occurred_at",
    "event_key",
    "changed_fields",
    "payload_mode",
    "truncated",
    "action",
    "idempotency_key",
    "status",
)
EVENTS_SHOWN = 200
REFRESH_SECONDS = 15  # the connections and streams pages read the stack again this often (console.js)
LAG_SAMPLES = 360  # per stream, one each time the streams or connections page is read


def error_line(exc: BaseException) -> str:
    """An error as the CLI would say it: what to do next when known, our own message, or AWS's code."""
    from botocore.exceptions import BotoCoreError, ClientError

    from cliniko_tools.cli.status import aws_error_line

    if isinstance(exc, ConnectorError):
        hint = hint_for(exc)
        return f"{hint} ({exc})" if hint else f"{exc.error_type}: {exc}"
    if isinstance(exc, BotoCoreError | ClientError):
        return aws_error_line(exc)
    return f"unexpected {type(exc).__name__}; the stack could not be read"


def error_hint(last_error: str | None, connection_id: str) -> str | None:
    """What to do about a stream's `last_error` (`Type: message (at …)`), from the error's type."""
    if not last_error:
        return None
    from cliniko_connector import errors

    name = last_error.split(":", 1)[0].strip()
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, ConnectorError)):
        return None
    return hint_for(cls.__new__(cls), connection_id)  # only its type matters to hint_for


def event_summary(event: dict[str, Any]) -> dict[str, str]:
    """What the events list shows of an event: time, type, ids; never record data."""
    raw = event.get("detail")
    detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return {
        "id": str(event.get("id", "")),
        "time": str(event.get("time", "")),
        "detail_type": str(event.get("detail-type", "?")),
        "connection": str(detail.get("connection_id") or ""),
        "trigger": str(detail.get("trigger") or detail.get("action") or ""),
        "record": f"{detail.get('resource')}/{detail.get('id')}" if detail.get("resource") else "",
        "key": str(detail.get("event_key") or detail.get("idempotency_key") or ""),
        "status": str(detail.get("status") or ""),
    }


def shown_detail(event: dict[str, Any], mode: PayloadMode) -> dict[str, Any]:
    raw = event.get("detail")
    detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if mode is PayloadMode.FULL:
        return detail
    return {k: detail[k] for k in ENVELOPE_FIELDS if k in detail}


def _hours_chart(label: str, by_hour: dict[int, int], now: datetime) -> Chart:
    current = hour_start(now.timestamp())
    hours = [current - (23 - i) * HOUR for i in range(24)]
    values = [
        (f"{datetime.fromtimestamp(h, UTC):%H}:00 UTC: {by_hour.get(h, 0)} events", float(by_hour.get(h, 0)))
        for h in hours
    ]
    return bar_chart(label, values)


@dataclass
class ConsoleState:
    backend: ConsoleBackend
    token: str
    port: int
    lag: dict[tuple[str, str], deque[tuple[datetime, int]]]
    lock: threading.Lock

    @property
    def origins(self) -> set[str]:
        return {f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"}

    @property
    def hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}


def create_app(backend: ConsoleBackend, token: str, port: int, login_key: str) -> Flask:
    """The console for `backend`, answering only as http://127.0.0.1:`port` (or localhost), to a browser that
    opened `/login?key=login_key`; writes for `token`."""
    if len(token) < 16 or len(login_key) < 16:
        raise ValueError("the console's token and login key must be at least 16 characters")
    session = secrets.token_urlsafe(32)  # the cookie's value: neither the key nor the token
    app = Flask(__name__)
    app.config.update(TEMPLATES_AUTO_RELOAD=False, MAX_CONTENT_LENGTH=256 * 1024)
    console = ConsoleState(backend, token, port, {}, threading.Lock())
    app.jinja_env.filters["z"] = lambda when: to_z(when) if when else "-"

    @contextmanager
    def stack() -> Iterator[ConsoleBackend]:
        with console.lock:  # the backend's clients are shared; one request at a time talks to the stack
            yield backend

    def read[T](what: Callable[[ConsoleBackend], T]) -> tuple[T | None, str | None]:
        """What the backend answered, or None and the error as one line (shown on the page)."""
        try:
            with stack() as b:
                return what(b), None
        except Exception as exc:
            return None, error_line(exc)

    def read_list[T](what: Callable[[ConsoleBackend], list[T]]) -> tuple[list[T], str | None]:
        found, error = read(what)
        return found or [], error

    def page(template: str, **context: Any) -> str:
        context.setdefault("refresh", None)
        return render_template(template, where=backend.where, now=to_z(utc_now()), **context)

    # -- guards ---------------------------------------------------------------------------------------

    @app.before_request
    def guard() -> None:
        if request.host not in console.hosts:
            abort(403, "refused: this console answers only as 127.0.0.1 or localhost on its own port")
        if request.method not in ("GET", "HEAD", "POST"):
            abort(405)
        if request.method == "POST" and not _same_origin(console.origins):
            abort(403, "refused: a request from another site")
        if request.endpoint in ("login", "static"):
            return
        if not hmac.compare_digest(request.cookies.get(SESSION_COOKIE, "").encode(), session.encode()):
            abort(401, "open the address the console command printed (it logs this browser in)")

    @app.get("/login")
    def login() -> Any:
        if not hmac.compare_digest(request.args.get("key", "").encode(), login_key.encode()):
            abort(403, "refused: open the address the console command printed, whole")
        answer = redirect(url_for("connections"), code=303)
        answer.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="Strict", path="/")
        return answer

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"  # no-referrer would make Origin "null"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        return response

    @app.errorhandler(HTTPException)
    def refused(exc: HTTPException) -> tuple[str, int]:
        return page("error.html", code=exc.code, message=exc.description), exc.code or 500

    def require_write() -> None:
        given = request.form.get("token") or request.headers.get(TOKEN_HEADER) or ""
        if not hmac.compare_digest(given.encode(), console.token.encode()):
            abort(403, "refused: the token is missing or wrong (the console command printed it when it started)")
        if request.form.get("confirm") != "yes":
            abort(400, "not done: confirm it first")

    # -- pages ----------------------------------------------------------------------------------------

    def reports() -> tuple[list[ConnectionReport], str | None]:
        found, error = read_list(lambda b: b.reports())
        for report in found:
            for s in report.streams:
                if s.lag_seconds is not None:
                    samples = console.lag.setdefault((report.connection.id, s.resource), deque(maxlen=LAG_SAMPLES))
                    samples.append((s.now, s.lag_seconds))
        return found, error

    @app.get("/")
    def home() -> Any:
        return redirect(url_for("connections"))

    @app.get("/connections")
    def connections() -> str:
        found, error = reports()
        rows = []
        for r in found:
            c = r.connection
            streams = []
            for s in r.streams:
                last_error = s.cursor.last_error if s.cursor else None
                streams.append(
                    {
                        "resource": s.resource,
                        "triggers": s.triggers,
                        "last_poll": to_z(s.cursor.last_poll_at) if s.cursor and s.cursor.last_poll_at else "never",
                        "lag": s.lag_seconds,
                        "last_error": last_error,
                        "hint": error_hint(last_error, c.id),
                    }
                )
            rows.append(
                {
                    "report": r,
                    "c": c,
                    "allowed": allowed_by_kind(c),
                    "streams": streams,
                    "off_triggers": [t for t in TRIGGERS if t not in c.triggers],
                }
            )
        return page("connections.html", rows=rows, error=error, active="connections", refresh=REFRESH_SECONDS)

    @app.get("/streams")
    def streams() -> str:
        found, error = reports()
        now = utc_now()
        rows = []
        for r in found:
            for s in r.streams:
                samples = list(console.lag.get((r.connection.id, s.resource), ()))
                lag_chart = bar_chart(
                    "lag while the console ran",
                    [(f"{to_z(at)}: {lag} s behind", float(lag)) for at, lag in samples[-60:]],
                )
                c = s.cursor
                rows.append(
                    {
                        "connection": r.connection.id,
                        "s": s,
                        "events": _hours_chart("events per hour, last 24 h", s.stats.events_by_hour, now),
                        "lag_chart": lag_chart,
                        "reconciled_at": to_z(c.reconciled_at) if c and c.reconciled_at else None,
                        "reconciling_from": to_z(c.reconcile_from) if c and c.reconcile_from else None,
                        "sort_not_honoured_at": to_z(c.sort_not_honoured_at) if c and c.sort_not_honoured_at else None,
                    }
                )
        return page("streams.html", rows=rows, error=error, active="streams", refresh=REFRESH_SECONDS)

    def filtered_events() -> tuple[list[dict[str, str]], str | None]:
        wanted = {k: request.args.get(k, "").strip() for k in ("connection", "trigger", "record")}
        events, error = read_list(lambda b: b.recent_events())
        rows = []
        for event in reversed(events):
            row = event_summary(event)
            if wanted["connection"] and row["connection"] != wanted["connection"]:
                continue
            if wanted["trigger"] and row["trigger"] != wanted["trigger"]:
                continue
            if wanted["record"] and row["record"].rsplit("/", 1)[-1] != wanted["record"]:
                continue
            rows.append(row)
            if len(rows) >= EVENTS_SHOWN:
                break
        return rows, error

    @app.get("/events")
    def events() -> str:
        rows, error = filtered_events()
        filters = {k: request.args.get(k, "") for k in ("connection", "trigger", "record")}
        return page(
            "events.html",
            rows=rows,
            error=error,
            active="events",
            filters=filters,
            triggers=list(TRIGGERS),
            fragment_url=url_for("event_rows") + "?" + urlencode(filters),
        )

    @app.get("/events/rows")
    def event_rows() -> str:
        rows, error = filtered_events()
        return render_template("event_rows.html", rows=rows, error=error)

    @app.get("/events/<event_id>")
    def event_detail(event_id: str) -> str:
        events, error = read_list(lambda b: b.recent_events())
        event = next((e for e in events if str(e.get("id")) == event_id), None)
        if event is None:
            abort(404, error or "no such event among the latest ones")
        found, _ = read_list(lambda b: b.reports())
        raw = event.get("detail")
        detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
        modes = {r.connection.id: r.payload_mode for r in found}
        # The connection's mode now, and the event's own: minimal when either says so (or the connection is gone).
        mode = modes.get(str(detail.get("connection_id")), PayloadMode.MINIMAL)
        if detail.get("payload_mode") == PayloadMode.MINIMAL.value:
            mode = PayloadMode.MINIMAL
        shown = json.dumps(shown_detail(event, mode), indent=2, sort_keys=True, ensure_ascii=False)
        return page("event.html", e=event_summary(event), mode=mode.value, shown=shown, active="events")

    @app.get("/failures")
    def failures() -> str:
        messages, error = read_list(lambda b: b.failures())
        return page("failures.html", messages=messages, error=error, active="failures")

    @app.get("/failures/redrive")
    def confirm_redrive() -> str:
        messages, error = read_list(lambda b: b.failures())
        ids = request.args.getlist("id")
        chosen = [m for m in messages if not ids or m.message_id in ids]
        return page("confirm_redrive.html", messages=chosen, error=error, active="failures")

    @app.post("/failures/redrive")
    def redrive() -> str:
        require_write()
        ids = request.form.getlist("id")
        results, error = read_list(lambda b: b.redrive(ids))
        return page("redriven.html", results=results, error=error, active="failures")

    @app.get("/connections/<connection_id>/change")
    def confirm_change(connection_id: str) -> str:
        change, trigger = request.args.get("change", ""), request.args.get("trigger", "")
        return page(
            "confirm_change.html",
            connection_id=connection_id,
            change=change,
            trigger=trigger,
            question=_question(connection_id, change, trigger),
            active="connections",
        )

    @app.post("/connections/<connection_id>/change")
    def change(connection_id: str) -> Any:
        require_write()
        what, trigger = request.form.get("change", ""), request.form.get("trigger", "")
        _question(connection_id, what, trigger)  # refuses what it doesn't know

        def apply(b: ConsoleBackend) -> None:
            if what in ("enable", "disable"):
                status = ConnectionStatus.ACTIVE if what == "enable" else ConnectionStatus.DISABLED
                b.set_connection(connection_id, status)
            else:
                b.set_trigger(connection_id, trigger, on=what == "trigger-on")

        _, error = read(apply)
        if error:
            return page("error.html", code=409, message=error), 409
        return redirect(url_for("connections"), code=303)

    @app.get("/automations")
    def automations() -> str:
        rows, error = read_list(lambda b: b.automations())
        names, names_error = read_list(lambda b: b.automation_names())
        return page(
            "automations.html",
            rows=rows,
            names=names,
            error=error or names_error,
            trial=None,
            chosen="",
            event_text="",
            active="automations",
        )

    @app.post("/automations/test")
    def test_automation() -> str:
        """Nothing is changed (the trial renders inputs, sends nothing): Host and origin guards only."""
        from cliniko_tools.cli.automations import target_body

        names, _ = read_list(lambda b: b.automation_names())
        rows, _ = read_list(lambda b: b.automations())
        chosen = request.form.get("automation", "")
        event_text = request.form.get("event", "").strip()
        if chosen not in names:
            abort(400, "choose one of the automations in the folder")
        event: dict[str, Any] | None = None
        if event_text:
            try:
                parsed = json.loads(event_text)
            except ValueError:
                abort(400, "the event is not JSON")
            if not isinstance(parsed, dict):
                abort(400, "the event must be a JSON object (an EventBridge event)")
            event = parsed
        result, error = read(lambda b: b.try_automation(chosen, event))
        trial = None
        if result is not None:
            found, tried = result
            trial = {
                "matched": found.matched,
                "mismatch": found.mismatch,
                "about": event_summary(tried),
                "targets": [
                    {
                        "id": t.target.id,
                        "destination": t.destination,
                        "body": target_body(t, whole_event="the event as it is"),
                        "problems": t.problems,
                    }
                    for t in found.targets
                ],
            }
        return page(
            "automations.html",
            rows=rows,
            names=names,
            error=error,
            trial=trial,
            chosen=chosen,
            event_text=event_text,
            active="automations",
        )

    return app


def _question(connection_id: str, change: str, trigger: str) -> str:
    if change == "enable":
        return f"Resume polling and actions of {connection_id}?"
    if change == "disable":
        return f"Pause polling and actions of {connection_id}?"
    if change in ("trigger-on", "trigger-off") and trigger in TRIGGERS:
        return f"Switch {trigger} {'on' if change == 'trigger-on' else 'off'} for {connection_id}?"
    abort(400, "unknown change")


def _same_origin(origins: set[str]) -> bool:
    """Whether a POST comes from this console's own pages (a request without any of these headers is not a
    browser's: the token still guards every write)."""
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin in origins
    referer = request.headers.get("Referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" in origins
    site = request.headers.get("Sec-Fetch-Site")
    return site is None or site in ("same-origin", "none")
