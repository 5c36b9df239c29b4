"""Names and ARNs of this stack that more than one kind of resource refers to."""

from __future__ import annotations

from cliniko_connector.adapters.secrets import SECRET_OWNER_TAG_KEY
from cliniko_connector.hookmodels import HOOK_SECRET_FOLDER
from cliniko_tools.devtools.template.intrinsics import ARN_PREFIX, get_att, if_, ref, sub

# Names that embed the stage: the bus, the schedule rule, the dashboard, the registry, the key alias.
STACK_PREFIX = "cliniko-connector-${Stage}"
BUS_NAME = STACK_PREFIX
SCHEDULE_RULE_NAME = f"{STACK_PREFIX}-poll-tick"
# Every function's POWERTOOLS_SERVICE_NAME and so the `service` dimension of every business metric: the
# stage is in it, so two stacks in one account never mix their metrics on a dashboard or in an alarm.
SERVICE_DIMENSION = STACK_PREFIX

# API-key secrets are named and read per stack: one stack's roles and CLI never reach another's keys.
SECRETS_PREFIX = "cliniko-connector/${AWS::StackName}/"
SECRET_OWNER_TAG: str = SECRET_OWNER_TAG_KEY
SECRETS_ARN = sub(f"{ARN_PREFIX}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{SECRETS_PREFIX}*")
# Hooks' secrets, a folder of the same prefix: only the hook role reads them (the others are denied them).
HOOK_SECRETS_ARN = sub(
    f"{ARN_PREFIX}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{SECRETS_PREFIX}{HOOK_SECRET_FOLDER}*"
)
BUS_ARN_TEXT = f"{ARN_PREFIX}:events:${{AWS::Region}}:${{AWS::AccountId}}:event-bus/{BUS_NAME}"
LOG_GROUP_PREFIX = "/aws/lambda/${AWS::StackName}/"
# The stack's key: the one created here, or the operator's own (KmsKeyArn).
KMS_KEY_ARN = if_("CreateKmsKey", get_att("KmsKey", "Arn"), ref("KmsKeyArn"))
