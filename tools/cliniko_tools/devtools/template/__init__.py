"""template.yaml and stacks/*.yaml, generated from the catalog: one function, rule and permission per action.

The root template.yaml nests one stack per resource family (nested.py), so no stack nears CloudFormation's
limits as the catalog grows. `build_stacks()` returns every template (path → dict), `build_template()` the root,
`render_stacks()` their YAML text. Edit these modules (or
the catalog) and run `make template`; a unit test fails while the committed template.yaml differs.
Intrinsics are written long-form (`Ref:`, `Fn::Sub:`, `Fn::GetAtt:`) so `yaml.safe_load` can read the file.

Besides the functions, rules and queues the code needs, the template carries what makes the stack
defensible: one customer-managed KMS key (or the operator's own) for every store, one IAM role per
function kind with nothing wider than AWS requires, an EventBridge schema registry generated from the
event models, alarms on every dead-letter queue and on the pipeline's health, and a dashboard.

One module per kind of resource, each adding to a `Stack` (stack.py); assemble.py calls them in template order:
  stores.py     KMS key and DynamoDB tables         bus.py        event bus, archive, bus policy
  queues.py     poll queue and dead-letter queues   iam.py        one role per function kind
  functions.py  layer, Globals, poll and action functions (and their log groups)
  rules.py      action rules, example automations   schemas.py    schema registry
  metrics.py    business metric names               alarms.py     CloudWatch alarms
  dashboard.py  the dashboard                       parameters.py parameters, conditions, outputs
  nested.py     one nested stack per resource family (actions, their rules, trigger schemas), its parameters
  limits.py     each stack's resources, parameters, outputs and size against CloudFormation's limits
  checkov.py    checkov skips, one table by resource kind
  intrinsics.py, names.py: CloudFormation's vocabulary and the names several kinds share.
This package re-exports what other modules and the tests import.
"""

from cliniko_tools.devtools.template.assemble import (
    HEADER,
    TEMPLATE_PATH,
    build_stacks,
    build_template,
    render_stacks,
    render_template,
)
from cliniko_tools.devtools.template.dashboard import dashboard_metric_names
from cliniko_tools.devtools.template.functions import (
    ACTION_TIME_BUDGET_SECONDS,
    POWERTOOLS_ENVIRONMENT,
    PYDANTIC_ENVIRONMENT,
    WORKER_MAX_CONCURRENCY,
    WORKER_TIMEOUT_SECONDS,
    action_function_id,
)
from cliniko_tools.devtools.template.metrics import (
    ACTION_METRICS,
    API_REQUESTS_METRIC,
    AUTH_FAILURES_METRIC,
    EMITTED_METRICS,
    RATE_LIMITED_METRIC,
    ROLLUP_METRICS,
    SORT_NOT_HONOURED_METRIC,
    STREAM_LAG_METRIC,
    STREAM_METRICS,
)
from cliniko_tools.devtools.template.nested import APPLICATION_TYPE, STACKS_DIR
from cliniko_tools.devtools.template.parameters import (
    CLI_ENVIRONMENT,
    DEFAULT_ACTION_REQUEST_SOURCE,
    DEFAULT_EVENT_SOURCE,
)
from cliniko_tools.devtools.template.queues import DEAD_LETTER_QUEUES, POLL_QUEUE_VISIBILITY_SECONDS
from cliniko_tools.devtools.template.rules import EXAMPLE_AUTOMATIONS, ExampleAutomation, action_rule_id
from cliniko_tools.devtools.template.schemas import DRAFT4, schema_content, schema_id, schema_name
from cliniko_tools.devtools.template.stores import table_properties

__all__ = [
    "ACTION_METRICS",
    "ACTION_TIME_BUDGET_SECONDS",
    "API_REQUESTS_METRIC",
    "APPLICATION_TYPE",
    "AUTH_FAILURES_METRIC",
    "CLI_ENVIRONMENT",
    "DEAD_LETTER_QUEUES",
    "DEFAULT_ACTION_REQUEST_SOURCE",
    "DEFAULT_EVENT_SOURCE",
    "DRAFT4",
    "EMITTED_METRICS",
    "EXAMPLE_AUTOMATIONS",
    "HEADER",
    "POLL_QUEUE_VISIBILITY_SECONDS",
    "POWERTOOLS_ENVIRONMENT",
    "PYDANTIC_ENVIRONMENT",
    "RATE_LIMITED_METRIC",
    "ROLLUP_METRICS",
    "SORT_NOT_HONOURED_METRIC",
    "STACKS_DIR",
    "STREAM_LAG_METRIC",
    "STREAM_METRICS",
    "TEMPLATE_PATH",
    "WORKER_MAX_CONCURRENCY",
    "WORKER_TIMEOUT_SECONDS",
    "ExampleAutomation",
    "action_function_id",
    "action_rule_id",
    "build_stacks",
    "build_template",
    "dashboard_metric_names",
    "render_stacks",
    "render_template",
    "schema_content",
    "schema_id",
    "schema_name",
    "table_properties",
]
