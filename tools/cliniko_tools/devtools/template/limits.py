"""What each template of the stack costs against CloudFormation's per-stack limits, measured on SAM's own transform.

Every template here is deployed from S3 (`sam deploy` uploads the root and `sam package` each nested template),
so the body limit is 1 MB, not the 51,200 bytes of an inline `--template-body`. Resources, parameters and
outputs are counted per stack: a nested stack is a stack of its own, and costs its parent one resource.
`aws-sam-translator` is a dev dependency (the tests); this module imports it only when asked to measure.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
MAX_BODY_BYTES = 1_048_576  # a template body in S3 (nested templates always are)
MAX_INLINE_BODY_BYTES = 51_200  # only a body passed inline; `sam deploy` uploads to S3 (resolve_s3)
HEADROOM = 0.8  # every stack stays under this share of every limit

_PACKAGED = {
    "AWS::Serverless::Function": ("CodeUri", "s3://packaged/code.zip"),
    "AWS::Serverless::LayerVersion": ("ContentUri", "s3://packaged/layer.zip"),
    "AWS::Serverless::Application": ("Location", "https://s3.amazonaws.com/packaged/nested.yaml"),
}


@dataclass(frozen=True)
class Usage:
    path: str
    resources: int
    parameters: int
    outputs: int
    body_bytes: int  # the template as uploaded (the rendered YAML)
    processed_bytes: int  # after SAM's transform (what CloudFormation then holds), as compact JSON

    def over(self, headroom: float = HEADROOM) -> list[str]:
        """What exceeds `headroom` of its limit (empty when the stack is well inside them all)."""
        checks = (
            ("resources", self.resources, MAX_RESOURCES),
            ("parameters", self.parameters, MAX_PARAMETERS),
            ("outputs", self.outputs, MAX_OUTPUTS),
            ("body bytes", self.body_bytes, MAX_BODY_BYTES),
            ("processed bytes", self.processed_bytes, MAX_BODY_BYTES),
        )
        return [
            f"{self.path}: {name} {value} > {headroom:.0%} of {limit}"
            for name, value, limit in checks
            if value > headroom * limit
        ]


class _NoManagedPolicies:
    """The templates name no managed policies: nothing to look up."""

    def load(self) -> dict[str, str]:
        return {}


def transformed(template: Mapping[str, Any]) -> dict[str, Any]:
    """`template` after SAM's transform, as `sam deploy` would have it processed (local paths as if packaged)."""
    from samtranslator.translator.transform import transform

    packaged = copy.deepcopy(dict(template))
    for resource in packaged["Resources"].values():
        if resource["Type"] in _PACKAGED:
            key, uri = _PACKAGED[resource["Type"]]
            resource["Properties"][key] = uri
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)  # its own usage metrics, unsent
    result: dict[str, Any] = transform(packaged, {}, _NoManagedPolicies())
    return result


def usage(path: str, template: Mapping[str, Any], text: str) -> Usage:
    processed = transformed(template)
    return Usage(
        path=path,
        resources=len(processed["Resources"]),
        parameters=len(processed.get("Parameters", {})),
        outputs=len(processed.get("Outputs", {})),
        body_bytes=len(text.encode("utf-8")),
        processed_bytes=len(json.dumps(processed, separators=(",", ":")).encode("utf-8")),
    )
