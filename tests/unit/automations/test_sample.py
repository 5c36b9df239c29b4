"""`triggers sample`: the poller's classifier decides which record fires a trigger; nothing is sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cliniko_connector.errors import ConfigurationError
from cliniko_connector.models import Connection, PayloadMode
from cliniko_connector.ports import Page
from cliniko_tools.automations.sample import NoSample, newest_event


class Api:
    """A Cliniko list that answers pages of records, oldest first (as if `sort` were ignored)."""

    def __init__(self, *pages: list[dict[str, Any]]) -> None:
        self.pages = list(pages)
        self.calls: list[tuple[str, Any]] = []

    def list_page(self, path_or_url: str, *, params: Any = (), deadline: float | None = None) -> Page:
        self.calls.append((path_or_url, params))
        index = 0 if not path_or_url.startswith("next:") else int(path_or_url[5:])
        more = index + 1 < len(self.pages)
        return Page(records=self.pages[index], next_url=f"next:{index + 1}" if more else None)

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("only lists are read")

    def iter_records(self, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        raise AssertionError("only lists are read")


CONNECTION = Connection(id="north", name="North", secret_id="s", shard="0")


def appointment(rid: int, updated: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(rid),
        "created_at": "2026-11-01T09:00:00Z",
        "updated_at": updated,
        "starts_at": "2026-12-01T09:00:00Z",
        "ends_at": "2026-12-01T09:30:00Z",
        "practitioner": {"links": {"self": "https://api.au1.cliniko.com/v1/practitioners/7"}},
        "did_not_arrive": False,
        "patient_arrived": False,
        "cancelled_at": None,
        "archived_at": None,
        **fields,
    }


def test_the_newest_record_that_fires_the_trigger_is_the_sample() -> None:
    api = Api(
        [
            appointment(1, "2026-11-02T09:00:00Z", did_not_arrive=True),
            appointment(3, "2026-11-04T09:00:00Z"),
            appointment(2, "2026-11-03T09:00:00Z", did_not_arrive=True),
        ]
    )
    event = newest_event(api, CONNECTION, "individual_appointment.did_not_arrive", source="clinic-a")
    assert (event["source"], event["detail-type"]) == ("clinic-a", "Individual Appointment Did Not Arrive")
    assert event["detail"]["id"] == "2"
    assert event["detail"]["event_key"] == "north:individual_appointments:2:individual_appointment.did_not_arrive:first"
    assert event["detail"]["data"]["did_not_arrive"] is True
    path, params = api.calls[0]
    assert path == "/individual_appointments"
    assert ("sort", "updated_at:desc,id:desc") in params
    assert ("q[]", "cancelled_at:*") in params  # hidden records are asked for, as the stream does


def test_later_pages_are_read_when_the_first_has_none() -> None:
    api = Api(
        [appointment(1, "2026-11-05T09:00:00Z")],
        [appointment(2, "2026-11-01T10:00:00Z", cancelled_at="2026-11-01T10:00:00Z")],
    )
    event = newest_event(api, CONNECTION, "individual_appointment.cancelled")
    assert event["detail"]["id"] == "2"
    assert event["detail"]["occurred_at"] == "2026-11-01T10:00:00Z"
    assert [c[0] for c in api.calls] == ["/individual_appointments", "next:1"]


def test_an_update_sample_names_no_changed_fields_and_skips_records_never_updated() -> None:
    api = Api([appointment(1, "2026-11-01T09:00:00Z"), appointment(2, "2026-11-02T09:00:00Z")])
    newest = appointment(3, "2026-11-01T09:00:00Z")
    api.pages[0].append(newest)
    event = newest_event(api, CONNECTION, "individual_appointment.updated")
    assert event["detail"]["id"] == "2"
    assert event["detail"]["changed_fields"] is None


def test_a_rescheduled_sample_does_not_invent_the_old_times() -> None:
    event = newest_event(
        Api([appointment(1, "2026-11-02T09:00:00Z")]), CONNECTION, "individual_appointment.rescheduled"
    )
    assert event["detail"]["previous"] == {"starts_at": None, "ends_at": None, "practitioner": None}


def test_minimal_payload_mode_leaves_the_record_out() -> None:
    api = Api([appointment(1, "2026-11-02T09:00:00Z", did_not_arrive=True)])
    event = newest_event(api, CONNECTION, "individual_appointment.did_not_arrive", payload_mode=PayloadMode.MINIMAL)
    assert (event["detail"]["payload_mode"], event["detail"]["data"]) == ("minimal", None)


def test_nothing_firing_is_said() -> None:
    with pytest.raises(NoSample, match="none of the newest individual_appointments of north fires"):
        newest_event(Api([appointment(1, "2026-11-02T09:00:00Z")]), CONNECTION, "individual_appointment.arrived")


def test_a_removed_record_cannot_be_read() -> None:
    with pytest.raises(ConfigurationError, match="nothing to read"):
        newest_event(Api([]), CONNECTION, "availability_block.removed")


def test_a_record_too_big_for_one_event_is_sampled_as_the_poller_would_send_it() -> None:
    api = Api([appointment(1, "2026-11-02T09:00:00Z", did_not_arrive=True, notes="x" * 300_000)])
    event = newest_event(api, CONNECTION, "individual_appointment.did_not_arrive")
    assert (event["detail"]["truncated"], event["detail"]["data"]) == (True, None)
