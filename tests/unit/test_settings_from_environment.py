"""Settings come from the environment the template sets (what pydantic-settings did before it left the layer)."""

import pytest

from cliniko_connector.errors import ConfigurationError
from cliniko_connector.models import PayloadMode
from cliniko_connector.settings import PollWorkerSettings, load_settings

ENVIRONMENT = {
    "CONNECTIONS_TABLE": "env-connections",
    "STATE_TABLE": "env-state",
    "EVENT_BUS_NAME": "env-bus",
    "CLINIKO_CONTACT_EMAIL": "ops@example.com",
    "POLL_QUEUE_URL": "https://sqs.example/jobs.fifo",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("environment")
def test_fields_are_read_from_their_upper_case_variables_and_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_RETRY_DELAY_SECONDS", "7")
    monkeypatch.setenv("CLINIKO_ALLOW_BASE_URL_OVERRIDE", "true")
    monkeypatch.setenv("DEFAULT_PAYLOAD_MODE", "minimal")
    settings = load_settings(PollWorkerSettings)
    assert settings.connections_table == "env-connections"
    assert settings.poll_retry_delay_seconds == 7
    assert settings.cliniko_allow_base_url_override is True
    assert settings.default_payload_mode is PayloadMode.MINIMAL


@pytest.mark.usefixtures("environment")
def test_given_values_win_over_the_environment() -> None:
    settings = load_settings(PollWorkerSettings, state_table="given-state")
    assert settings.state_table == "given-state"
    assert settings.event_bus_name == "env-bus"


@pytest.mark.usefixtures("environment")
def test_a_missing_or_bad_variable_is_named_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_TABLE")
    monkeypatch.setenv("POLL_RETRY_DELAY_SECONDS", "secret-looking-value")
    with pytest.raises(ConfigurationError) as failed:
        load_settings(PollWorkerSettings)
    assert "STATE_TABLE" in str(failed.value)
    assert "POLL_RETRY_DELAY_SECONDS" in str(failed.value)
    assert "secret-looking-value" not in str(failed.value)


@pytest.mark.usefixtures("environment")
def test_variables_of_other_functions_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTION_NAME", "patient.create")
    assert not hasattr(load_settings(PollWorkerSettings), "action_name")
