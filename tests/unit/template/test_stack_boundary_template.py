"""The template's side of the action path's trust boundary: the bus policy, the action rules' sources, and
API-key secrets scoped to the stack. moto evaluates no resource policy, so the bus policy's two Deny
statements are evaluated here as IAM would for PutEvents (an explicit deny wins)."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest

from cliniko_connector.adapters.secrets import SECRET_OWNER_TAG_KEY
from cliniko_connector.catalog.actions import ACTIONS
from cliniko_connector.eventmodels import ACTION_REQUESTED
from cliniko_tools.devtools.template import (
    CLI_ENVIRONMENT,
    DEFAULT_ACTION_REQUEST_SOURCE,
    DEFAULT_EVENT_SOURCE,
    TEMPLATE_PATH,
    action_rule_id,
    build_stacks,
    build_template,
)
from cliniko_tools.local.stack import assign_physical
from cliniko_tools.local.template import FUNCTION_TYPE, Physical, ResolvedTemplate, resolve_stacks

ACCOUNT = "123456789012"
WORKER = f"arn:aws:iam::{ACCOUNT}:role/stack-PollWorkerRole-1"
ACTIONS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/stack-ActionFunctionRole-1"
SCHEDULING = f"arn:aws:iam::{ACCOUNT}:role/stack-ScheduleActionsRole-1"
SCHEDULER = f"arn:aws:iam::{ACCOUNT}:role/stack-SchedulerTargetRole-1"
HOOKS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/stack-HookFunctionRole-1"
AUTOMATION = f"arn:aws:iam::{ACCOUNT}:role/automation-intake"
STRANGER = f"arn:aws:iam::{ACCOUNT}:role/some-other-workload"
OPERATOR = f"arn:aws:iam::{ACCOUNT}:user/ops"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return build_template()


def resolved(template: dict[str, Any], **parameters: str) -> ResolvedTemplate:
    resolved = ResolvedTemplate(
        template, {"ClinikoContactEmail": "ops@example.com", **parameters}, pseudo={"AWS::StackName": "stack"}
    )
    resolved.physical.update(
        {
            "PollWorkerRole": Physical("stack-PollWorkerRole-1", {"Arn": WORKER}),
            "ActionFunctionRole": Physical("stack-ActionFunctionRole-1", {"Arn": ACTIONS_ROLE}),
            "ScheduleActionsRole": Physical("stack-ScheduleActionsRole-1", {"Arn": SCHEDULING}),
            "SchedulerTargetRole": Physical("stack-SchedulerTargetRole-1", {"Arn": SCHEDULER}),
            "HookFunctionRole": Physical("stack-HookFunctionRole-1", {"Arn": HOOKS_ROLE}),
            "EventBus": Physical("cliniko-connector-dev", {"Arn": "arn:aws:events:us-east-1:1:event-bus/b"}),
        }
    )
    return resolved


def statements(stack: ResolvedTemplate) -> list[dict[str, Any]]:
    policies = stack.resources("AWS::Events::EventBusPolicy").values()
    return [stack.resolve(p["Properties"]["Statement"]) for p in policies]


def _holds(operator: str, key_value: Any, wanted: Any) -> bool:
    values = wanted if isinstance(wanted, list) else [wanted]
    if operator == "StringEquals":
        return key_value in values
    if operator == "ArnNotLike":
        return not any(fnmatchcase(key_value, pattern) for pattern in values)
    raise AssertionError(f"the evaluator does not know {operator}")


def denied(stack: ResolvedTemplate, principal: str, source: str, detail_type: str) -> bool:
    """Whether the bus policy denies this PutEvents: some Deny statement whose conditions all hold."""
    context = {"aws:PrincipalArn": principal, "events:source": source, "events:detail-type": detail_type}
    for statement in statements(stack):
        assert statement["Effect"] == "Deny" and statement["Action"] == "events:PutEvents"
        assert statement["Principal"] == "*"
        conditions = statement["Condition"]
        if all(_holds(op, context[key], value) for op, pair in conditions.items() for key, value in pair.items()):
            return True
    return False


def test_only_the_stacks_roles_and_listed_principals_may_request_actions_or_use_the_connector_sources(
    template: dict[str, Any],
) -> None:
    default = resolved(template)
    listed = resolved(template, ActionRequestPrincipals=f"{AUTOMATION[:-6]}*,{OPERATOR}")
    for stack in (default, listed):
        for role in (WORKER, ACTIONS_ROLE):
            assert not denied(stack, role, DEFAULT_EVENT_SOURCE, "Patient Created")
            assert not denied(stack, role, DEFAULT_ACTION_REQUEST_SOURCE, ACTION_REQUESTED)
        # Another workload: no action request under any source, nothing under the connector's sources.
        assert denied(stack, STRANGER, "anything.else", ACTION_REQUESTED)
        assert denied(stack, STRANGER, DEFAULT_EVENT_SOURCE, "Patient Created")
        assert denied(stack, STRANGER, DEFAULT_ACTION_REQUEST_SOURCE, "Whatever")
        assert not denied(stack, STRANGER, "other.app", "Order Placed")  # the bus stays usable for the rest
        # The hook function puts action requests under the trusted source; it is the stack's own role.
        assert not denied(stack, HOOKS_ROLE, DEFAULT_ACTION_REQUEST_SOURCE, ACTION_REQUESTED)
    assert denied(default, AUTOMATION, DEFAULT_ACTION_REQUEST_SOURCE, ACTION_REQUESTED)
    assert not denied(listed, AUTOMATION, DEFAULT_ACTION_REQUEST_SOURCE, ACTION_REQUESTED)  # by wildcard
    assert not denied(listed, OPERATOR, DEFAULT_EVENT_SOURCE, "Patient Created")
    custom = resolved(template, EventSource="acme.cliniko")
    assert denied(custom, STRANGER, "acme.cliniko", "Patient Created")


def deployed(**parameters: str) -> list[ResolvedTemplate]:
    """The root and its nested stacks, each resolved with what its parent passes it (root first)."""
    stacks = build_stacks()
    root = ResolvedTemplate(
        stacks[TEMPLATE_PATH],
        {"ClinikoContactEmail": "ops@example.com", **parameters},
        pseudo={"AWS::StackName": "stack"},
    )
    return resolve_stacks(
        root, stacks.__getitem__, lambda t: assign_physical(t, "stack", "us-east-1", ACCOUNT, "http://127.0.0.1:1")
    )


def test_every_function_of_every_nested_stack_may_publish_and_no_other_role_is_made() -> None:
    """The bus policy names the root's roles; a function in a nested stack runs as one of them."""
    root, *children = deployed()
    assert children
    roles = set()
    for stack in (root, *children):
        for function_id in stack.resources(FUNCTION_TYPE):
            role = stack.resolve(stack.function_properties(function_id)["Role"])
            roles.add(role)
            if function_id == "PollDispatcherFunction":  # publishes nothing
                continue
            assert not denied(root, role, DEFAULT_ACTION_REQUEST_SOURCE, ACTION_REQUESTED), function_id
            assert not denied(root, role, DEFAULT_EVENT_SOURCE, "Patient Created"), function_id
        if stack is not root:
            assert not stack.resources("AWS::IAM::Role"), "a nested stack's role would be denied by the bus policy"
    assert {r.rsplit("/", 1)[-1] for r in roles} == {
        f"stack-{name}"
        for name in (
            "PollDispatcherRole",
            "PollWorkerRole",
            "ActionFunctionRole",
            "ScheduleActionsRole",
            "HookFunctionRole",
        )
    }
    assert denied(root, STRANGER, DEFAULT_ACTION_REQUEST_SOURCE, ACTION_REQUESTED)


def test_action_rules_accept_only_the_declared_sources() -> None:
    stacks = deployed(ActionRequestSource="acme.automations")
    rules = {logical_id: (stack, rule) for stack in stacks for logical_id, rule in stack.resources().items()}
    for action in ACTIONS.values():
        stack, rule = rules[action_rule_id(action)]
        pattern = stack.resolve(rule["Properties"]["EventPattern"])
        assert pattern == {
            "source": [DEFAULT_EVENT_SOURCE, "acme.automations"],
            "detail-type": [ACTION_REQUESTED],
            "detail": {"action": [action.name]},
        }


def test_roles_read_only_this_stacks_tagged_secrets(template: dict[str, Any]) -> None:
    stack = resolved(template)
    readers: dict[str, str] = {}
    denials: set[str] = set()
    prefix = "arn:aws:secretsmanager:us-east-1:123456789012:secret:cliniko-connector/stack/"
    for role in ("PollWorkerRole", "ActionFunctionRole", "PollDispatcherRole", "HookFunctionRole"):
        (policy,) = template["Resources"][role]["Properties"]["Policies"]
        for raw in policy["PolicyDocument"]["Statement"]:
            if not any(a.startswith("secretsmanager:") for a in raw["Action"]):
                continue
            statement = stack.resolve(raw)
            assert statement["Action"] == ["secretsmanager:GetSecretValue"]
            if statement["Effect"] == "Deny":
                assert statement["Resource"] == prefix + "hooks/*"
                denials.add(role)
                continue
            readers[role] = statement["Resource"]
            assert statement["Condition"] == {
                "StringEquals": {f"secretsmanager:ResourceTag/{SECRET_OWNER_TAG_KEY}": "stack"}
            }
    # The worker and the actions read API keys but never a hook's secret; the hook function only hooks'
    # secrets; the dispatcher reads no secret.
    assert readers == {
        "PollWorkerRole": prefix + "*",
        "ActionFunctionRole": prefix + "*",
        "HookFunctionRole": prefix + "hooks/*",
    }
    assert denials == {"PollWorkerRole", "ActionFunctionRole"}


def test_functions_and_the_cli_get_the_stacks_name_and_secret_prefix(template: dict[str, Any]) -> None:
    stack = resolved(template)
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert stack.resolve(variables["STACK_NAME"]) == "stack"
    assert stack.resolve(variables["SECRETS_PREFIX"]) == "cliniko-connector/stack/"
    cli = dict(CLI_ENVIRONMENT)
    assert cli["STACK_NAME"] == "${AWS::StackName}"
    assert cli["SECRETS_PREFIX"] == "cliniko-connector/${AWS::StackName}/"


def _statements(template: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    (policy,) = template["Resources"][role]["Properties"]["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"] if "Sid" in s}


def test_the_scheduling_function_can_alter_only_its_groups_schedules_and_its_own_state_rows(
    template: dict[str, Any],
) -> None:
    stack = resolved(template)
    statements = _statements(template, "ScheduleActionsRole")
    schedules = stack.resolve(statements["SchedulesOfThisStacksGroup"])
    assert schedules["Resource"].endswith(":schedule/stack-actions/*")  # not another group's schedules
    rows = statements["OwnLedgerRowsOnly"]
    assert rows["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SCHEDULE#*"]}}  # no cursors
    passed = statements["PassOnlyTheSchedulerRole"]
    assert passed["Resource"] == {"Fn::GetAtt": ["SchedulerTargetRole", "Arn"]}
    assert passed["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    for role in ("PollWorkerRole", "ActionFunctionRole", "PollDispatcherRole"):
        granted = [a for s in _statements(template, role).values() for a in s["Action"]]
        assert not [a for a in granted if a.startswith("scheduler:") or a == "iam:PassRole"], role


def test_the_schedulers_role_is_assumable_only_by_this_stacks_schedules_and_only_puts_on_the_bus(
    template: dict[str, Any],
) -> None:
    stack = resolved(template)
    role = template["Resources"]["SchedulerTargetRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert stack.resolve(trust["Condition"]["ArnLike"]["aws:SourceArn"]).endswith(":schedule/stack-actions/*")
    granted = {a for s in _statements(template, "SchedulerTargetRole").values() for a in s["Action"]}
    assert granted <= {
        "events:PutEvents",
        "sqs:SendMessage",
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:DescribeKey",
    }
