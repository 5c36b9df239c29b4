"""Cliniko client rules that need no server: shards, headers, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from cliniko_connector.adapters.cliniko_http import ClinikoClient, base_url_for_shard, q, shard_from_key
from cliniko_connector.errors import ConfigurationError


@pytest.mark.parametrize(
    ("key", "shard"),
    [
        ("MS0xLWFiY2RlZg-au2", "au2"),
        ("MS0xLWFiY2RlZg-uk1", "uk1"),
        ("MS0xLWFiY2RlZg-CA1", "ca1"),
        ("MS0xLWFiY2RlZg", "au1"),  # old keys have no suffix
        ("ab-cd-ef-eu1", "eu1"),  # only the last `-` counts
        ("MS0xLWFiY2RlZg-notashard", "au1"),
    ],
)
def test_the_shard_is_the_key_suffix_after_the_last_dash(key: str, shard: str) -> None:
    assert shard_from_key(key) == shard


def test_the_base_url_follows_the_shard_unless_overridden() -> None:
    assert ClinikoClient("k-uk1", user_agent="A (a@b.co)").base_url == "https://api.uk1.cliniko.com/v1"
    assert ClinikoClient("k-uk1", user_agent="A (a@b.co)", base_url="http://127.0.0.1:9/v1").base_url == (
        "http://127.0.0.1:9/v1"
    )
    with pytest.raises(ConfigurationError):
        base_url_for_shard("evil.example.com/")


@pytest.mark.parametrize("agent", ["", "cliniko-connector", "App (not-an-email)", "App ()"])
def test_a_user_agent_without_a_contact_email_is_refused(agent: str) -> None:
    with pytest.raises(ConfigurationError, match="User-Agent"):
        ClinikoClient("key", user_agent=agent)


def test_filters_are_url_encoded_with_utc_z_timestamps() -> None:
    aest = timezone(timedelta(hours=10))
    param = q("updated_at", ">=", datetime(2026, 1, 2, 13, 0, 5, 123, tzinfo=aest))
    assert param == ("q[]", "updated_at:>=2026-01-02T03:00:05Z")
    assert urlencode([param]) == "q%5B%5D=updated_at%3A%3E%3D2026-01-02T03%3A00%3A05Z"
    assert q("practitioner_id", "=", ["1", "2"]) == ("q[]", "practitioner_id:=1,2")
    assert q("draft", "=", False) == ("q[]", "draft:=false")
    assert q("updated_at", "<", datetime(2026, 1, 1, tzinfo=UTC))[1].endswith("Z")


def test_the_key_is_not_in_the_clients_repr() -> None:
    assert "secret-key" not in repr(ClinikoClient("secret-key-au1", user_agent="A (a@b.co)"))
