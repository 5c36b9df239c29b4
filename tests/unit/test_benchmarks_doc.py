"""docs/benchmarks.md shows the committed results file, and the cost model prices what it was given."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import report
from bench.cost import item_size, load_prices, monthly, priced, stack_fixed


def test_the_docs_results_section_is_what_the_committed_results_file_generates() -> None:
    results = json.loads(report.LATEST.read_text(encoding="utf-8"))
    doc = report.DOC.read_text(encoding="utf-8")

    assert report.section(doc) == report.render(results), "run `python -m bench.report` and commit the doc"


def test_the_committed_results_hold_the_headline_figures_and_where_they_were_measured() -> None:
    results = json.loads(report.LATEST.read_text(encoding="utf-8"))

    for key in ("monthly_cost_per_clinic_usd", "aws_calls_per_idle_stream", "cold_start_ratio"):
        assert key in results, key
    assert {"measured_at", "commit", "cpus", "python"} <= results["machine"].keys()


def test_the_price_table_says_when_where_and_from_where() -> None:
    prices = load_prices()

    assert prices["region"] == "us-east-1" and prices["as_of"]
    assert all(p["source"].startswith("https://") and p["usd"] > 0 for p in prices["prices"].values())


def counts(**changes: Any) -> dict[str, Any]:
    """One clinic's measured cycle, small round numbers."""
    base: dict[str, Any] = {
        "cost_streams": 10,
        "cost_functions": {
            "poll_dispatcher": {"memory_mb": 256, "architecture": "arm64", "timeout": 60, "tracing": "PassThrough"},
            "poll_worker": {"memory_mb": 512, "architecture": "arm64", "timeout": 300, "tracing": "PassThrough"},
        },
        "cost_secret_cache_ttl_seconds": 300.0,
        "cost_worker_max_concurrency": 5,
        "busy_changes_per_minute": 20,
        "idle_aws_calls_by_operation": {"dynamodb.GetItem": 10, "lambda.Invoke": 11},
        "idle_aws_calls_per_cycle": 21,
        "idle_invocations_by_function": {
            "poll_dispatcher": {"invocations": 1, "cpu_ms": 0, "wall_ms": 0, "aws_calls": 0, "cliniko_requests": 0},
            "poll_worker": {"invocations": 10, "cpu_ms": 0, "wall_ms": 0, "aws_calls": 0, "cliniko_requests": 0},
        },
        "idle_dynamodb_read_units": 10,
        "idle_dynamodb_write_units": 0,
        "idle_sqs_request_chunks": 0,
        "idle_putevents_event_chunks": 0,
        "idle_log_bytes": 0,
        "idle_custom_metrics": 1,
        "idle_custom_metrics_per_connection": 1,
    }
    return base | changes


def test_a_month_of_reads_is_read_units_times_cycles_times_the_price() -> None:
    prices = load_prices()
    cycles = prices["hours_per_month"] * 60

    cost = monthly(counts(), "idle", 1, prices)

    rru = prices["prices"]["dynamodb_read_request_unit"]["usd"]
    assert cost["dynamodb"] == pytest.approx(10 * cycles * rru, abs=1e-4)
    assert cost["xray"] == 0  # tracing off: no traces
    # The secret's monthly fee, and one read per container per cache TTL (five containers).
    secret = prices["prices"]["secretsmanager_secret_month"]["usd"]
    call = prices["prices"]["secretsmanager_api_call"]["usd"]
    assert cost["secretsmanager"] == pytest.approx(secret + 5 * prices["hours_per_month"] * 12 * call, abs=1e-4)


def test_metrics_with_a_connection_dimension_grow_with_clinics_down_the_price_tiers() -> None:
    prices = load_prices()

    one = monthly(counts(), "idle", 1, prices)["cloudwatch_metrics"]
    many = monthly(counts(idle_custom_metrics=21, idle_custom_metrics_per_connection=20), "idle", 1000, prices)

    assert one == pytest.approx(0.30)
    # 20 per clinic: 20,000, the first 10,000 at 0.30, the rest at 0.10 (the stack's one is not the clinics').
    assert many["cloudwatch_metrics"] == pytest.approx(10_000 * 0.30 + 10_000 * 0.10)


def test_metrics_per_service_cost_the_stack_once_not_each_clinic() -> None:
    prices = load_prices()
    per_service = counts(idle_custom_metrics=6, idle_custom_metrics_per_connection=0)

    assert monthly(per_service, "idle", 1, prices)["cloudwatch_metrics"] == 0
    assert monthly(per_service, "idle", 1000, prices)["cloudwatch_metrics"] == 0
    without = stack_fixed(prices, counts(idle_custom_metrics=0, idle_custom_metrics_per_connection=0))
    assert stack_fixed(prices, per_service)["usd"] == pytest.approx(without["usd"] + 6 * 0.30)


def test_the_dispatchers_log_line_is_the_stacks_and_the_workers_are_each_clinics() -> None:
    prices = load_prices()
    logged = counts(idle_log_bytes=1_100)
    logged["idle_invocations_by_function"]["poll_dispatcher"]["log_bytes"] = 100  # the other 1,000: workers

    one = monthly(logged, "idle", 1, prices)["cloudwatch_logs"]
    many = monthly(logged, "idle", 1000, prices)["cloudwatch_logs"]

    gb = prices["hours_per_month"] * 60 / 1e9 * prices["prices"]["cloudwatch_log_gb_ingested"]["usd"]
    assert one == pytest.approx(1_100 * gb, abs=1e-4)
    assert many == pytest.approx((1_000 * 1000 + 100) * gb, abs=1e-4)


def test_traces_follow_the_sampling_reservoir_once_invocations_pass_one_a_second() -> None:
    prices = load_prices()
    traced = counts()
    for config in traced["cost_functions"].values():
        config["tracing"] = "Active"

    one = monthly(traced, "idle", 1, prices)["xray"]
    many = monthly(traced, "idle", 1000, prices)["xray"]

    invocations = 11 * prices["hours_per_month"] * 60
    assert one == pytest.approx(invocations * 5e-6, abs=1e-4)  # under one a second: every invocation
    assert many < 1000 * one * 0.1  # 1,000 clinics: the 1/s reservoir and 5% of the rest


def test_priced_reports_the_headline_figures() -> None:
    results = counts() | {f"busy_{k[5:]}": v for k, v in counts().items() if k.startswith("idle_")}

    figures = priced(results)

    assert figures["aws_calls_per_idle_stream"] == 2.1
    assert figures["monthly_cost_per_clinic_usd"] == figures["monthly_cost_per_clinic_usd_by_service"]["total"]
    # Tracing off as measured, and what turning it on would add: one trace per invocation for one clinic.
    assert figures["monthly_cost_per_clinic_usd_by_service"]["xray"] == 0
    assert figures["monthly_xray_per_clinic_if_active_usd"] == pytest.approx(11 * 730 * 60 * 5e-6, abs=1e-4)


def test_item_size_counts_attribute_names_and_values_as_dynamodb_does() -> None:
    assert item_size({"pk": {"S": "abc"}, "ok": {"BOOL": True}}) == len("pk") + 3 + len("ok") + 1


def test_the_cost_model_reads_tracing_as_the_template_deploys_it() -> None:
    from bench.cost import _template, function_config

    template = _template()
    configs = {f: function_config(template, f) for f in ("poll_dispatcher", "poll_worker")}

    # TracingMode's default: no trace per invocation, so the idle clinic's X-Ray line is 0.
    assert {c["tracing"] for c in configs.values()} == {template["Parameters"]["TracingMode"]["Default"]}
    assert template["Parameters"]["TracingMode"]["Default"] == "PassThrough"


def test_a_worker_whose_streams_wait_at_once_is_billed_for_its_longest_chain_of_waits() -> None:
    prices = load_prices()
    latency = prices["assumptions"]["cliniko_request_latency_ms"]["value"]
    one_by_one = {"invocations": 1, "cpu_ms": 0, "wall_ms": 0, "aws_calls": 0, "cliniko_requests": 12}
    at_once = one_by_one | {"critical_aws_calls": 0, "critical_cliniko_requests": 3}  # four threads of three
    dispatcher = {"invocations": 1, "cpu_ms": 0, "wall_ms": 0, "aws_calls": 0, "cliniko_requests": 0}

    def lambda_usd(worker: dict[str, Any]) -> float:
        runs = counts(idle_invocations_by_function={"poll_dispatcher": dispatcher, "poll_worker": worker})
        return monthly(runs, "idle", 1, prices)["lambda"]

    requests_only = lambda_usd(one_by_one | {"cliniko_requests": 0})
    # 512 MB: a GB-second is two seconds of waits; the requests' part of the bill falls to the chain's share.
    gb_second = prices["prices"]["lambda_gb_second_arm64"]["usd"]
    month = prices["hours_per_month"] * 60
    assert lambda_usd(one_by_one) - requests_only == pytest.approx(12 * latency / 2000 * gb_second * month, rel=1e-3)
    assert lambda_usd(at_once) - requests_only == pytest.approx(3 * latency / 2000 * gb_second * month, rel=1e-3)


def test_the_cost_without_the_secrets_fee_is_the_total_less_one_secret_a_month() -> None:
    prices = load_prices()
    idle = counts()
    runs = idle | {f"busy_{k.removeprefix('idle_')}": v for k, v in idle.items() if k.startswith("idle_")}

    figures = priced(runs, prices)

    fee = prices["prices"]["secretsmanager_secret_month"]["usd"]
    assert fee > 0
    assert figures["monthly_cost_per_clinic_excluding_secret_fee_usd"] == pytest.approx(
        figures["monthly_cost_per_clinic_usd"] - fee, abs=1e-4
    )
    assert figures["monthly_cost_per_clinic_usd_by_service"]["secretsmanager"] >= fee
