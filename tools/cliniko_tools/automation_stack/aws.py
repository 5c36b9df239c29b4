"""The automations stack on AWS: a CloudFormation stack `<connector-stack>-automations`, changed only through
change sets, so `plan` shows exactly what `deploy` will do.

The stack's template keeps, in its Metadata, the compiled automations and webhook declarations it was built
from (never a secret): `list` reads them back, and `remove NAME` rebuilds the template without one automation.
Webhook secrets are NoEcho parameters: given at the deploy that first creates a webhook (or rotates it), else
kept with `UsePreviousValue`; CloudFormation never shows them back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from cliniko_connector.errors import ConfigurationError
from cliniko_tools.automation_stack.cfn import METADATA_KEY, TARGET_ROLE, build_template, secret_parameter
from cliniko_tools.automation_stack.connector import ConnectorOutputs, automations_stack_name
from cliniko_tools.automation_stack.local import Plan
from cliniko_tools.automation_stack.spec import DeploySpec, camel

TEMPLATE_BODY_LIMIT = 51_200  # CloudFormation's limit on an inline TemplateBody
PLAN_PLACEHOLDER = "placeholder-for-plan"
METRICS_WINDOW = timedelta(hours=24)


class AwsAutomationsStack:
    def __init__(self, session: Any, connector_stack: str, *, s3_bucket: str | None = None) -> None:
        self.session = session
        self.s3_bucket = s3_bucket
        self.connector_stack = connector_stack
        self.stack_name = automations_stack_name(connector_stack)
        self.cloudformation = session.client("cloudformation")

    # -- reading --

    def connector(self) -> ConnectorOutputs:
        try:
            stacks = self.cloudformation.describe_stacks(StackName=self.connector_stack)["Stacks"]
        except ClientError as exc:
            raise ConfigurationError(f"no connector stack {self.connector_stack}: {_aws_message(exc)}") from None
        return ConnectorOutputs.from_stack(stacks[0], self._nested_stacks())

    def _nested_stacks(self) -> list[dict[str, Any]]:
        """The connector's nested stacks (one per resource family), whose outputs hold the action functions' ARNs."""
        found: list[dict[str, Any]] = []
        paginator = self.cloudformation.get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=self.connector_stack):
            for resource in page["StackResourceSummaries"]:
                if resource["ResourceType"] == "AWS::CloudFormation::Stack" and resource.get("PhysicalResourceId"):
                    found.extend(
                        self.cloudformation.describe_stacks(StackName=resource["PhysicalResourceId"])["Stacks"]
                    )
        return found

    def deployed(self) -> dict[str, Any] | None:
        """The automations stack's `DescribeStacks` entry, or None when there is none."""
        try:
            stack: dict[str, Any] = self.cloudformation.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        except ClientError as exc:
            if "does not exist" in _aws_message(exc):
                return None
            raise
        if stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            return None  # a change set was made but never run: nothing is deployed
        return stack

    def deployed_spec(self) -> DeploySpec:
        if self.deployed() is None:
            return DeploySpec()
        body = self.cloudformation.get_template(StackName=self.stack_name, TemplateStage="Original")["TemplateBody"]
        template = json.loads(body) if isinstance(body, str) else body
        stored = template.get("Metadata", {}).get(METADATA_KEY, {}).get("spec")
        return DeploySpec.model_validate(stored) if stored else DeploySpec()

    # -- plan and deploy --

    def _template(self, spec: DeploySpec) -> dict[str, str]:
        """`TemplateBody`, or `TemplateURL` of a copy in `self.s3_bucket` when it is over the inline limit."""
        template = build_template(spec, self.connector())
        template["Metadata"][METADATA_KEY]["spec"] = spec.model_dump(mode="json", exclude_defaults=True)
        body = json.dumps(template, separators=(",", ":"))
        size = len(body.encode())
        if size <= TEMPLATE_BODY_LIMIT:
            return {"TemplateBody": body}
        if not self.s3_bucket:
            raise ConfigurationError(
                f"the automations template is {size} bytes, over CloudFormation's {TEMPLATE_BODY_LIMIT} for an "
                "inline template: give --template-bucket BUCKET (a bucket for deploy artifacts) to upload it there"
            )
        key = f"cliniko-connector/{self.stack_name}/{hashlib.sha256(body.encode()).hexdigest()[:16]}.json"
        s3 = self.session.client("s3")
        s3.put_object(Bucket=self.s3_bucket, Key=key, Body=body.encode(), ContentType="application/json")
        region = self.session.region_name or "us-east-1"
        return {"TemplateURL": f"https://{self.s3_bucket}.s3.{region}.amazonaws.com/{key}"}

    def _parameters(self, spec: DeploySpec, secrets: Mapping[str, str], *, for_plan: bool) -> list[dict[str, Any]]:
        deployed = self.deployed()
        previous = {p["ParameterKey"] for p in (deployed or {}).get("Parameters", [])}
        parameters: list[dict[str, Any]] = []
        missing: list[str] = []
        for name in spec.used_webhooks():
            key = secret_parameter(name)
            if name in secrets:
                parameters.append({"ParameterKey": key, "ParameterValue": secrets[name]})
            elif key in previous:
                parameters.append({"ParameterKey": key, "UsePreviousValue": True})
            elif for_plan:
                parameters.append({"ParameterKey": key, "ParameterValue": PLAN_PLACEHOLDER})
            else:
                missing.append(name)
        if missing:
            raise ConfigurationError(
                f"the webhook(s) {', '.join(missing)} need a secret at their first deploy: "
                "--secret-file NAME=FILE (or NAME=- for standard input)"
            )
        return parameters

    def _change_set(self, spec: DeploySpec, secrets: Mapping[str, str], *, for_plan: bool) -> tuple[str, Plan]:
        problems = spec.check()
        if problems:
            raise ConfigurationError("; ".join(problems))
        change_type = "UPDATE" if self.deployed() is not None else "CREATE"
        name = f"automations-{datetime.now(UTC):%Y%m%d%H%M%S}"
        self.cloudformation.create_change_set(
            StackName=self.stack_name,
            ChangeSetName=name,
            ChangeSetType=change_type,
            **self._template(spec),
            Parameters=self._parameters(spec, secrets, for_plan=for_plan),
            Capabilities=["CAPABILITY_IAM"],
            Description="cliniko-connector automations plan" if for_plan else "cliniko-connector automations deploy",
            Tags=[{"Key": "cliniko-connector:connector-stack", "Value": self.connector_stack}],
        )
        try:
            self.cloudformation.get_waiter("change_set_create_complete").wait(
                StackName=self.stack_name, ChangeSetName=name, WaiterConfig={"Delay": 3, "MaxAttempts": 200}
            )
        except WaiterError:
            described = self.cloudformation.describe_change_set(StackName=self.stack_name, ChangeSetName=name)
            reason = str(described.get("StatusReason", ""))
            if "didn't contain changes" in reason or "No updates" in reason:
                self._delete_change_set(name, change_type)
                return name, Plan()
            self._delete_change_set(name, change_type)
            raise ConfigurationError(f"CloudFormation refused the change: {reason}") from None
        return name, self._describe(name, spec)

    def _describe(self, change_set: str, spec: DeploySpec) -> Plan:
        changes: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs = {"StackName": self.stack_name, "ChangeSetName": change_set}
            if token:
                kwargs["NextToken"] = token
            page = self.cloudformation.describe_change_set(**kwargs)
            changes.extend(page.get("Changes", []))
            token = page.get("NextToken")
            if not token:
                break
        owners = _owners(spec) | _owners(self.deployed_spec())
        plan = Plan()
        for change in changes:
            resource = change.get("ResourceChange", {})
            logical_id = resource.get("LogicalResourceId", "")
            owner = next(
                (o for prefix, o in sorted(owners.items(), key=lambda i: -len(i[0])) if logical_id.startswith(prefix)),
                "stack",
            )
            line = f"{resource.get('Action', '?')} {resource.get('ResourceType', '')} {logical_id}"
            if resource.get("Replacement") == "True":
                line += " (replaced)"
            plan.details.setdefault(owner, []).append(line)
            bucket = {"Add": plan.add, "Remove": plan.remove}.get(resource.get("Action", ""), plan.change)
            if owner not in bucket:
                bucket.append(owner)
        for owner in plan.add + plan.remove:
            if owner in plan.change:
                plan.change.remove(owner)
        for names in (plan.add, plan.change, plan.remove):
            names.sort(key=lambda n: (" " in n, n))  # automations first, then webhooks, topics, queues, the role
        return plan

    def _delete_change_set(self, name: str, change_type: str) -> None:
        try:
            self.cloudformation.delete_change_set(StackName=self.stack_name, ChangeSetName=name)
            if change_type == "CREATE":
                # A CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS: take it away too.
                self.cloudformation.delete_stack(StackName=self.stack_name)
        except ClientError:
            pass

    def plan(self, spec: DeploySpec, secrets: Mapping[str, str] | None = None) -> Plan:
        change_type = "UPDATE" if self.deployed() is not None else "CREATE"
        name, plan = self._change_set(spec, secrets or {}, for_plan=True)
        self._delete_change_set(name, change_type)
        return plan

    def deploy(self, spec: DeploySpec, secrets: Mapping[str, str]) -> Plan:
        change_type = "UPDATE" if self.deployed() is not None else "CREATE"
        name, plan = self._change_set(spec, secrets, for_plan=False)
        if plan.empty:
            return plan
        self.cloudformation.execute_change_set(StackName=self.stack_name, ChangeSetName=name)
        waiter = "stack_create_complete" if change_type == "CREATE" else "stack_update_complete"
        try:
            self.cloudformation.get_waiter(waiter).wait(
                StackName=self.stack_name, WaiterConfig={"Delay": 5, "MaxAttempts": 360}
            )
        except WaiterError:
            raise ConfigurationError(
                f"the deploy of {self.stack_name} did not complete: see its events in the CloudFormation console "
                f"(`aws cloudformation describe-stack-events --stack-name {self.stack_name}`)"
            ) from None
        return plan

    def remove(self, name: str) -> bool:
        spec = self.deployed_spec()
        if name not in {a.name for a in spec.automations}:
            return False
        kept = [a for a in spec.automations if a.name != name and a.part_of != name]  # with a waiting one's parts
        rest = DeploySpec(automations=kept, webhooks=dict(spec.webhooks))
        rest.webhooks = {n: w for n, w in rest.webhooks.items() if n in rest.used_webhooks()}
        if not rest.automations:
            self.cloudformation.delete_stack(StackName=self.stack_name)
            self.cloudformation.get_waiter("stack_delete_complete").wait(
                StackName=self.stack_name, WaiterConfig={"Delay": 5, "MaxAttempts": 360}
            )
            return True
        self.deploy(rest, {})
        return True

    # -- list --

    def metrics(self, spec: DeploySpec, bus: str) -> dict[str, dict[str, int]]:
        """Rule name → {MatchedEvents, FailedInvocations, Invocations} summed over the last 24 h."""
        from cliniko_tools.automation_stack.spec import rule_name

        cloudwatch = self.session.client("cloudwatch")
        end = datetime.now(UTC)
        queries: list[dict[str, Any]] = []
        ids: dict[str, tuple[str, str]] = {}
        for index, automation in enumerate(spec.automations):
            rule = rule_name(automation.name)
            for metric in ("MatchedEvents", "Invocations", "FailedInvocations"):
                query_id = f"m{index}_{metric.lower()}"
                ids[query_id] = (rule, metric)
                queries.append(
                    {
                        "Id": query_id,
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/Events",
                                "MetricName": metric,
                                "Dimensions": [
                                    {"Name": "EventBusName", "Value": bus},
                                    {"Name": "RuleName", "Value": rule},
                                ],
                            },
                            "Period": int(METRICS_WINDOW.total_seconds()),
                            "Stat": "Sum",
                        },
                    }
                )
        counts: dict[str, dict[str, int]] = {}
        for start in range(0, len(queries), 500):
            response = cloudwatch.get_metric_data(
                MetricDataQueries=queries[start : start + 500], StartTime=end - METRICS_WINDOW, EndTime=end
            )
            for result in response.get("MetricDataResults", []):
                rule, metric = ids[result["Id"]]
                counts.setdefault(rule, {})[metric] = int(sum(result.get("Values", [])))
        return counts


def _owners(spec: DeploySpec) -> dict[str, str]:
    """Logical-id prefix → the automation or webhook it belongs to (for naming a change set's changes)."""
    owners = {camel(a.name): a.name for a in spec.automations}
    owners[TARGET_ROLE] = "target role (webhooks, other buses)"
    owners.update({f"Webhook{camel(w)}": f"webhook {w}" for w in spec.webhooks})
    for automation in spec.automations:
        for target in automation.targets:
            if target.kind in ("email", "sms") and not target.ref.startswith("arn:"):
                owners.setdefault(f"Topic{camel(target.ref)}", f"topic {target.ref}")
            if target.kind == "queue" and not target.ref.startswith("arn:"):
                owners.setdefault(f"Queue{camel(target.ref)}", f"queue {target.ref}")
    return owners


def _aws_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", exc))
