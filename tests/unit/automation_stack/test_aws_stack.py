"""`automations plan/deploy/remove/list` on AWS, against a CloudFormation and CloudWatch that record the calls:
change sets only, the secret only as a parameter value, UsePreviousValue after, metrics by rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cliniko_connector.errors import ConfigurationError
from cliniko_tools.automation_stack.aws import PLAN_PLACEHOLDER, AwsAutomationsStack
from cliniko_tools.automation_stack.cfn import METADATA_KEY
from tests.unit.automation_stack.specs import ACCOUNT, every_kind

SECRET = "the-front-desk-secret"
CONNECTOR = {
    "StackName": "cliniko-connector",
    "StackId": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/cliniko-connector/abc",
    "StackStatus": "UPDATE_COMPLETE",
    "Outputs": [
        {"OutputKey": "EventBusName", "OutputValue": "cliniko-connector-dev"},
        {
            "OutputKey": "EventBusArn",
            "OutputValue": f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/cliniko-connector-dev",
        },
    ],
    "Parameters": [{"ParameterKey": "EventSource", "ParameterValue": "cliniko"}],
}
# The action functions' ARNs are outputs of the connector's nested stacks, one per resource family.
COMMUNICATIONS_STACK = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/cliniko-connector-CommunicationsStack-1/d"
COMMUNICATIONS = {
    "StackName": "cliniko-connector-CommunicationsStack-1",
    "StackId": COMMUNICATIONS_STACK,
    "Outputs": [
        {
            "OutputKey": "CommunicationCreateActionFunctionArn",
            "OutputValue": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:communication-create",
        }
    ],
}


class Paginator:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
        return self.pages


class Waiter:
    def __init__(self, cloudformation: FakeCloudFormation, name: str) -> None:
        self.cloudformation, self.name = cloudformation, name

    def wait(self, **kwargs: Any) -> None:
        self.cloudformation.calls.append(("wait", self.name))


class FakeCloudFormation:
    """The connector stack exists; the automations stack exists once a change set is executed."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.automations: dict[str, Any] | None = None
        self.change_sets: dict[str, dict[str, Any]] = {}

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        if StackName == "cliniko-connector":
            return {"Stacks": [CONNECTOR]}
        if StackName == COMMUNICATIONS_STACK:
            return {"Stacks": [COMMUNICATIONS]}
        if self.automations is None:
            from botocore.exceptions import ClientError

            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": "Stack does not exist"}}, "DescribeStacks"
            )
        return {"Stacks": [self.automations]}

    def get_template(self, StackName: str, TemplateStage: str) -> dict[str, Any]:
        assert self.automations is not None
        return {"TemplateBody": self.automations["template"]}

    def create_change_set(self, **kwargs: Any) -> None:
        self.calls.append(("create_change_set", kwargs))
        self.change_sets[kwargs["ChangeSetName"]] = kwargs

    def get_waiter(self, name: str) -> Waiter:
        return Waiter(self, name)

    def get_paginator(self, name: str) -> Paginator:
        assert name == "list_stack_resources"
        summaries = [
            {"ResourceType": "AWS::DynamoDB::Table", "PhysicalResourceId": "cliniko-connector-StateTable-1"},
            {"ResourceType": "AWS::CloudFormation::Stack", "PhysicalResourceId": COMMUNICATIONS_STACK},
        ]
        return Paginator([{"StackResourceSummaries": summaries[:1]}, {"StackResourceSummaries": summaries[1:]}])

    def describe_change_set(self, StackName: str, ChangeSetName: str) -> dict[str, Any]:
        change_set = self.change_sets[ChangeSetName]
        template = json.loads(change_set.get("TemplateBody") or self.uploaded(change_set["TemplateURL"]))
        before = json.loads(self.automations["template"])["Resources"] if self.automations else {}
        changes = [
            {"ResourceChange": {"Action": "Add", "LogicalResourceId": k, "ResourceType": v["Type"]}}
            for k, v in template["Resources"].items()
            if k not in before
        ] + [
            {"ResourceChange": {"Action": "Remove", "LogicalResourceId": k, "ResourceType": v["Type"]}}
            for k, v in before.items()
            if k not in template["Resources"]
        ]
        return {"Changes": changes, "Status": "CREATE_COMPLETE"}

    uploaded: Any = None  # set by Session: the S3 object a TemplateURL names

    def delete_change_set(self, StackName: str, ChangeSetName: str) -> None:
        self.calls.append(("delete_change_set", ChangeSetName))

    def delete_stack(self, StackName: str) -> None:
        self.calls.append(("delete_stack", StackName))

    def execute_change_set(self, StackName: str, ChangeSetName: str) -> None:
        change_set = self.change_sets[ChangeSetName]
        self.calls.append(("execute_change_set", ChangeSetName))
        self.automations = {
            "StackName": StackName,
            "StackStatus": "UPDATE_COMPLETE",
            "Parameters": [{"ParameterKey": p["ParameterKey"]} for p in change_set["Parameters"]],
            "template": change_set["TemplateBody"],
        }


class FakeCloudWatch:
    def __init__(self) -> None:
        self.queries: list[dict[str, Any]] = []

    def get_metric_data(self, MetricDataQueries: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        self.queries.extend(MetricDataQueries)
        values = {"MatchedEvents": [3.0, 4.0], "Invocations": [7.0], "FailedInvocations": [1.0]}
        return {
            "MetricDataResults": [
                {"Id": q["Id"], "Values": values[q["MetricStat"]["Metric"]["MetricName"]]} for q in MetricDataQueries
            ]
        }


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:
        self.objects[(Bucket, Key)] = Body


class Session:
    region_name = "us-east-1"

    def __init__(self) -> None:
        self.cloudformation = FakeCloudFormation()
        self.cloudwatch = FakeCloudWatch()
        self.s3 = FakeS3()
        self.cloudformation.uploaded = lambda url: next(
            body for (_, key), body in self.s3.objects.items() if url.endswith(key)
        )

    def client(self, service: str) -> Any:
        return {"cloudformation": self.cloudformation, "cloudwatch": self.cloudwatch, "s3": self.s3}[service]


def spec() -> Any:
    every = every_kind()
    every.automations = every.automations[:1]
    every.automations[0].targets = every.automations[0].targets[:2]  # the action and the webhook
    return every


def created(session: Session) -> list[dict[str, Any]]:
    return [kwargs for name, kwargs in session.cloudformation.calls if name == "create_change_set"]


def test_plan_is_a_change_set_it_deletes_with_a_placeholder_for_a_secret_not_given() -> None:
    session = Session()
    plan = AwsAutomationsStack(session, "cliniko-connector").plan(spec())
    assert plan.add == ["no-show-follow-up", "target role (webhooks, other buses)", "webhook front-desk"]
    assert "Add AWS::Events::Rule NoShowFollowUpRule" in plan.details["no-show-follow-up"]
    (request,) = created(session)
    assert request["StackName"] == "cliniko-connector-automations"
    assert request["ChangeSetType"] == "CREATE"
    assert request["Parameters"] == [{"ParameterKey": "WebhookFrontDeskSecret", "ParameterValue": PLAN_PLACEHOLDER}]
    names = [name for name, _ in session.cloudformation.calls]
    assert "execute_change_set" not in names
    assert ("delete_stack", "cliniko-connector-automations") in session.cloudformation.calls  # the empty REVIEW stack


def test_deploy_passes_the_secret_only_as_a_parameter_then_keeps_the_previous_value() -> None:
    session = Session()
    stack = AwsAutomationsStack(session, "cliniko-connector")
    with pytest.raises(ConfigurationError, match="need a secret"):
        stack.deploy(spec(), {})
    stack.deploy(spec(), {"front-desk": SECRET})
    first = created(session)[-1]
    assert first["Parameters"] == [{"ParameterKey": "WebhookFrontDeskSecret", "ParameterValue": SECRET}]
    assert SECRET not in first["TemplateBody"]
    assert first["Capabilities"] == ["CAPABILITY_IAM"]
    assert ("wait", "stack_create_complete") in session.cloudformation.calls
    later = spec()
    later.automations[0].targets = later.automations[0].targets[:1]
    stack.deploy(later, {})
    second = created(session)[-1]
    assert second["ChangeSetType"] == "UPDATE"
    assert second["Parameters"] == []  # no webhook any more: no secret to keep


def test_an_unchanged_webhook_keeps_its_secret_with_use_previous_value() -> None:
    session = Session()
    stack = AwsAutomationsStack(session, "cliniko-connector")
    stack.deploy(spec(), {"front-desk": SECRET})
    stack.plan(spec())
    assert created(session)[-1]["Parameters"] == [{"ParameterKey": "WebhookFrontDeskSecret", "UsePreviousValue": True}]


def test_remove_deploys_the_stored_automations_without_the_one_named_and_list_reads_metrics_by_rule() -> None:
    session = Session()
    stack = AwsAutomationsStack(session, "cliniko-connector")
    two = every_kind()
    two.automations[0].targets = two.automations[0].targets[:2]
    two.automations[1].targets[0].ref = "arn:aws:sns:us-east-1:123456789012:on-call"
    stack.deploy(two, {"front-desk": SECRET})
    assert {a.name for a in stack.deployed_spec().automations} == {"no-show-follow-up", "alerts-by-sms"}
    assert stack.remove("alerts-by-sms")
    template = json.loads(created(session)[-1]["TemplateBody"])
    assert "AlertsBySmsRule" not in template["Resources"]
    assert list(template["Metadata"][METADATA_KEY]["automations"]) == ["no-show-follow-up"]
    assert not stack.remove("alerts-by-sms")
    counts = stack.metrics(stack.deployed_spec(), "cliniko-connector-dev")
    assert counts == {"automation-no-show-follow-up": {"MatchedEvents": 7, "Invocations": 7, "FailedInvocations": 1}}
    dimensions = session.cloudwatch.queries[0]["MetricStat"]["Metric"]["Dimensions"]
    assert dimensions == [
        {"Name": "EventBusName", "Value": "cliniko-connector-dev"},
        {"Name": "RuleName", "Value": "automation-no-show-follow-up"},
    ]


def test_a_template_over_the_inline_limit_goes_through_the_s3_bucket_given() -> None:
    many = spec()
    first = many.automations[0]
    many.automations = [first.model_copy(update={"name": f"no-show-{n}"}) for n in range(20)]
    with pytest.raises(ConfigurationError, match="--template-bucket"):
        AwsAutomationsStack(Session(), "cliniko-connector").plan(many)
    session = Session()
    AwsAutomationsStack(session, "cliniko-connector", s3_bucket="deploy-artifacts").plan(many)
    (request,) = created(session)
    assert "TemplateBody" not in request
    ((bucket, key),) = session.s3.objects
    assert request["TemplateURL"] == f"https://deploy-artifacts.s3.us-east-1.amazonaws.com/{key}"
    assert len(json.loads(session.s3.objects[(bucket, key)])["Metadata"][METADATA_KEY]["automations"]) == 20
