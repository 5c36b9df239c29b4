"""An inbound hook's request: a signed, valid one becomes one action request on the bus; every attack and every
bad payload gets its status and reaches neither the bus nor Cliniko."""

from __future__ import annotations

import base64
import json

import pytest

from cliniko_connector.eventmodels import ACTION_REQUESTED, ActionRequest
from cliniko_connector.hookmodels import PRESETS, HookAuth, HookMap
from cliniko_connector.usecases.hooks import MAX_AGE_SECONDS, HookRefused, call_from_function_url
from tests.unit.hooks.support import SECRET, SOURCE, form, make_hook, rig


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_signed_request_becomes_one_action_request_from_the_trusted_source(preset: str) -> None:
    r = rig(make_hook(preset=preset))
    status, body = r.call(form())
    assert status == 202 and body == {"status": "accepted", "request_id": "req-1"}
    (event,) = r.publisher.events
    assert event.source == SOURCE and event.detail_type == ACTION_REQUESTED
    request = ActionRequest.model_validate(event.detail)
    assert request.action == "patient.create" and request.connection_id == "northside"
    assert request.input == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "notes": "Signed up with form F7",
    }
    assert request.idempotency_key == "hook/signup:sub-1"
    assert [(e.status, e.error) for e in r.ledger.recent("signup", 5)] == [(202, None)]


def test_the_idempotency_key_header_wins_over_the_body_field() -> None:
    r = rig()
    assert r.call(form(), headers={"Idempotency-Key": "caller-42"})[0] == 202
    assert r.publisher.events[0].detail["idempotency_key"] == "hook/signup:caller-42"


def test_a_bad_signature_is_401_and_nothing_is_published() -> None:
    r = rig()
    status, body = r.call(form(), signed=False, headers={"Stripe-Signature": f"t={int(r.now[0])},v1={'0' * 64}"})
    assert status == 401 and body["error"] == "Unauthorized"
    assert r.call(form(), signed=False)[0] == 401  # no signature at all
    assert r.publisher.events == []


def test_a_body_changed_after_signing_is_401() -> None:
    r = rig(make_hook(preset="github"))
    data = json.dumps(form()).encode()
    from cliniko_connector.usecases.hooks import sign

    headers = sign(PRESETS["github"], SECRET, data)
    tampered = data.replace(b"Ada", b"Eve")
    assert r.call(None, raw=tampered, signed=False, headers=headers)[0] == 401
    assert r.publisher.events == []


def test_a_signature_made_with_another_secret_is_401() -> None:
    from cliniko_connector.usecases.hooks import sign

    r = rig(make_hook(preset="generic"))
    data = json.dumps(form()).encode()
    assert r.call(None, raw=data, signed=False, headers=sign(PRESETS["generic"], "guessed", data))[0] == 401
    assert r.publisher.events == []


@pytest.mark.parametrize("offset", [MAX_AGE_SECONDS + 1, -(MAX_AGE_SECONDS + 1), 10**6])
def test_a_stale_or_future_timestamp_is_401(offset: int) -> None:
    r = rig()
    status, body = r.call(form(), timestamp=int(r.now[0]) - offset)
    assert status == 401 and "five minutes" in body["message"]
    assert r.publisher.events == []


def test_a_replayed_signed_request_is_401_and_runs_once() -> None:
    r = rig()
    data = json.dumps(form()).encode()
    from cliniko_connector.usecases.hooks import sign

    headers = sign(PRESETS["stripe"], SECRET, data, int(r.now[0]))
    assert r.call(None, raw=data, signed=False, headers=headers)[0] == 202
    status, body = r.call(None, raw=data, signed=False, headers=headers)
    assert status == 401 and "replay" in body["message"]
    assert len(r.publisher.events) == 1


def test_a_signature_without_a_timestamp_is_remembered_for_weeks() -> None:
    from cliniko_connector.usecases.hooks import sign

    r = rig(make_hook(preset="github"))
    data = json.dumps(form()).encode()
    headers = sign(PRESETS["github"], SECRET, data)
    assert r.call(None, raw=data, signed=False, headers=headers)[0] == 202
    r.now[0] += 29 * 86400  # past the action's day of idempotency
    assert r.call(None, raw=data, signed=False, headers=headers)[0] == 401
    assert len(r.publisher.events) == 1


def test_a_bearer_hooks_replayed_request_id_is_401() -> None:
    r = rig(make_hook(auth=HookAuth(type="bearer")))
    auth = {"Authorization": f"Bearer {SECRET}", "X-Request-Id": "r-1"}
    assert r.call(form(), signed=False, headers=auth)[0] == 202
    assert r.call(form(), signed=False, headers=auth)[0] == 401
    assert r.call(form(), signed=False, headers={"Authorization": "Bearer wrong", "X-Request-Id": "r-2"})[0] == 401
    assert r.call(form(), signed=False, headers={"Authorization": SECRET})[0] == 401
    assert len(r.publisher.events) == 1


def test_an_oversized_body_is_413_before_its_signature_is_even_checked() -> None:
    r = rig(make_hook(max_body_bytes=1024))
    status, body = r.call(form(notes="x" * 2000))
    assert status == 413 and body["error"] == "BodyTooLarge"
    assert r.publisher.events == []


def test_a_function_url_body_far_over_the_limit_is_refused_unread() -> None:
    event = {"rawPath": "/hooks/signup", "body": "x" * 5000, "requestContext": {"requestId": "r"}}
    with pytest.raises(HookRefused) as refused:
        call_from_function_url(event, max_body_bytes=1000)
    assert refused.value.status == 413
    encoded = base64.b64encode(b'{"a": 1}').decode()
    call = call_from_function_url(
        {
            "rawPath": "/hooks/signup",
            "body": encoded,
            "isBase64Encoded": True,
            "headers": {"X-Signature": "s"},
            "requestContext": {"requestId": "r", "http": {"method": "POST"}},
        },
        max_body_bytes=1000,
    )
    assert (call.name, call.body, call.headers) == ("signup", b'{"a": 1}', {"x-signature": "s"})


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe"])
def test_malformed_json_is_400(raw: bytes) -> None:
    r = rig()
    status, body = r.call(None, raw=raw)
    assert status == 400 and body["error"] == "MalformedJson"
    assert r.publisher.events == []


def test_missing_required_fields_are_400_naming_the_fields_never_their_values() -> None:
    r = rig()
    status, body = r.call({"submission_id": "s", "data": {"email": "secret-ada@example.com", "first_name": 7}})
    assert status == 400 and body["error"] == "InvalidInput"
    assert "last_name" in body["fields"]
    assert "secret-ada" not in json.dumps(body)
    assert r.publisher.events == []


def test_a_bad_idempotency_key_is_400() -> None:
    r = rig()
    assert r.call(form(), headers={"Idempotency-Key": "has spaces"})[0] == 400
    assert r.call({**form(), "submission_id": {"x": 1}})[0] == 400
    assert r.publisher.events == []


def test_an_action_the_connection_does_not_allow_is_403() -> None:
    r = rig(allowed=("medical_alert.create",))
    status, body = r.call(form())
    assert status == 403 and body["error"] == "ActionNotAllowed"
    assert r.publisher.events == []


def test_a_disabled_connection_is_403() -> None:
    r = rig(enabled=False)
    assert r.call(form())[0] == 403
    assert r.publisher.events == []


def test_over_the_rate_limit_is_429_and_the_next_minute_is_fresh() -> None:
    r = rig(make_hook(rate_limit_per_minute=2))
    r.now[0] = 1_800_000_040.0
    assert [r.call(form(submission_id=f"s{i}"))[0] for i in range(3)] == [202, 202, 429]
    r.now[0] += 60
    assert r.call(form(submission_id="s9"))[0] == 202
    assert len(r.publisher.events) == 3


def test_unauthenticated_requests_do_not_use_up_the_callers_minute() -> None:
    r = rig(make_hook(rate_limit_per_minute=1))
    for _ in range(5):
        assert r.call(form(), signed=False)[0] == 401
    assert r.call(form())[0] == 202


def test_an_unknown_hook_looks_like_a_bad_signature() -> None:
    r = rig()
    unknown, wrong = r.call(form(), hook="nope", signed=False), r.call(form(), signed=False)
    assert unknown[0] == wrong[0] == 401
    assert unknown[1]["error"] == wrong[1]["error"] and unknown[1]["message"] == wrong[1]["message"]
    assert r.call(form(), hook="../etc", signed=False)[0] == 401
    assert r.ledger.recent("nope", 5) == []  # a stranger's guesses leave no rows


def test_a_request_the_bus_refused_is_503_and_may_be_sent_again() -> None:
    r = rig()
    r.publisher.fail_permanently()
    data = json.dumps(form()).encode()
    from cliniko_connector.usecases.hooks import sign

    headers = sign(PRESETS["stripe"], SECRET, data, int(r.now[0]))
    assert r.call(None, raw=data, signed=False, headers=headers)[0] == 503
    r.publisher.fail_permanently(False)
    assert r.call(None, raw=data, signed=False, headers=headers)[0] == 202


def test_a_map_with_a_literal_and_a_typed_path_keeps_json_types() -> None:
    hook_map = HookMap(input={"id": "$.n", "tags": ["$.a", "$.missing", 3], "text": "<n>-<missing>"})
    assert hook_map.apply({"n": 5, "a": True}) == {"id": 5, "tags": [True, 3], "text": "5-"}
    with pytest.raises(ValueError, match="JSON path"):
        HookMap(input={"x": "$.bad path"})
