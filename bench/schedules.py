"""Scheduled actions on the local stack: how long a trigger event takes to become a pending one-time schedule,
and a due schedule to reach its target. Runnable alone: `python -m bench --only schedules`.

The local stack is `local up` of template.yaml on the benchmark's moto server, with the reminder recipe
deployed beside it (`automations deploy`); the runner drives the real handlers as `local run` does. Each
appointment's Created event is put on the bus, and the runner's drain (rule → scheduling function →
EventBridge Scheduler on moto) is timed until its schedule exists. Then the runner fires the due schedules
(as Scheduler does on AWS) and drains again (bus → due rule → SNS), timed per schedule. On AWS, Scheduler's
own delay (it fires within a minute of `at(...)`, `FlexibleTimeWindow` OFF) comes on top of the second figure;
`local run`'s cycle (10 s by default) on top of both locally.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.env import CONTACT_EMAIL, LocalAws
from bench.scenarios import _p95

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "automations" / "recipes" / "appointment-reminder.yaml"
SAMPLE = ROOT / "events" / "triggers" / "individual_appointment.created.json"


def _z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def latency(aws: LocalAws, appointments: int = 20) -> dict[str, Any]:
    from cliniko_tools.automation_stack.local import LocalAutomationsStack
    from cliniko_tools.automation_stack.spec import from_folder
    from cliniko_tools.local.runner import LocalRunner
    from cliniko_tools.local.stack import up

    with tempfile.TemporaryDirectory() as folder:
        state_path = Path(folder) / ".local" / "stack.json"
        state = up(ROOT / "template.yaml", parameters={"ClinikoContactEmail": CONTACT_EMAIL}, state_path=state_path)
        spec, problems = from_folder(RECIPE, source=state.parameters.get("EventSource", "cliniko"))
        if problems:
            raise RuntimeError("; ".join(problems))
        LocalAutomationsStack(state, state_path).deploy(spec, {})
        runner = LocalRunner(state, ROOT, state_path=state_path, retry_delay_seconds=0)
        events = aws.client("events")
        scheduler = aws.client("scheduler")
        group = state.schedule_groups["ScheduleGroup"]
        bus = state.event_buses["EventBus"]
        sample = json.loads(SAMPLE.read_text(encoding="utf-8"))
        now = datetime.now(UTC).replace(microsecond=0)
        to_schedule: list[float] = []
        for n in range(appointments):
            detail = dict(sample["detail"])
            record = f"9{n:08d}"
            starts = now + timedelta(days=2, minutes=n)
            detail["data"] = {**detail["data"], "id": record, "starts_at": _z(starts), "updated_at": _z(now)}
            detail.update(id=record, event_key=f"demo:individual_appointments:{record}:created", occurred_at=_z(now))
            entry = {"EventBusName": bus, "Source": "cliniko", "DetailType": sample["detail-type"]}
            t = time.perf_counter()
            events.put_events(Entries=[{**entry, "Detail": json.dumps(detail)}])
            runner.drain()
            to_schedule.append(time.perf_counter() - t)
        pending = len(scheduler.list_schedules(GroupName=group)["Schedules"])
        to_target: list[float] = []
        published = 0
        for n in range(appointments):
            due = now + timedelta(days=1, minutes=n, seconds=1)
            t = time.perf_counter()
            fired = runner.fire_due_schedules(due)
            runner.drain()
            to_target.append(time.perf_counter() - t)
            published += len(fired.put)
        delivery = runner.automations()
        sent = len([d for d in (delivery.delivered if delivery else []) if d.kind == "sms" and d.ok])
    return {
        "schedule_latency_seconds": round(statistics.median(to_schedule), 3),
        "schedule_latency_p95_seconds": round(_p95(to_schedule), 3),
        "schedule_fire_latency_seconds": round(statistics.median(to_target), 3),
        "schedule_fire_latency_p95_seconds": round(_p95(to_target), 3),
        "schedule_appointments": appointments,
        "schedule_pending_after_create": pending,
        "schedule_fired": published,
        "schedule_sms_sent": sent,
    }
