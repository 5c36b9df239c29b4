"""The event contract in the stack: an EventBridge schema registry, one JSON Schema (draft 4) per detail-type."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from cliniko_tools.devtools.events_doc import all_schemas
from cliniko_tools.devtools.template.intrinsics import get_att, sub
from cliniko_tools.devtools.template.names import STACK_PREFIX
from cliniko_tools.devtools.template.stack import Stack

DRAFT4 = "http://json-schema.org/draft-04/schema#"
REGISTRY_NAME = STACK_PREFIX
ENVELOPE_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


def schema_id(detail_type: str) -> str:
    return f"{schema_name(detail_type)}EventSchema"


def schema_name(detail_type: str) -> str:
    """`Patient Created` → `PatientCreated` (registry schema names take letters, digits, `.`, `-`, `_`, `@`)."""
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", detail_type) if word)


def _draft4(node: Any) -> Any:
    """Pydantic's (2020-12 flavoured) schema as JSON Schema draft 4: `$defs` → `definitions`, `const` → `enum`."""
    if isinstance(node, list):
        return [_draft4(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$defs":
            out["definitions"] = {name: _draft4(schema) for name, schema in value.items()}
        elif key == "$ref" and isinstance(value, str):
            out[key] = value.replace("#/$defs/", "#/definitions/")
        elif key == "const":
            out["enum"] = [value]
        else:
            out[key] = _draft4(value)
    return out


def event_schema(detail_type: str, detail_schema: Mapping[str, Any]) -> dict[str, Any]:
    """A whole EventBridge event whose `detail` is `detail_schema`, as JSON Schema draft 4."""
    detail = _draft4(dict(detail_schema))
    definitions = detail.pop("definitions", {})
    detail_name = f"{schema_name(detail_type)}Detail"
    if detail_name in definitions:
        raise ValueError(f"{detail_type}: the detail schema already defines {detail_name}")
    return {
        "$schema": DRAFT4,
        "title": detail_type,
        "description": f"An EventBridge event of detail-type `{detail_type}` on the cliniko-connector bus.",
        "x-amazon-events-detail-type": detail_type,
        "type": "object",
        "required": list(ENVELOPE_FIELDS),
        "properties": {
            "version": {"type": "string"},
            "id": {"type": "string"},
            "detail-type": {"type": "string", "enum": [detail_type]},
            "source": {"type": "string"},
            "account": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "region": {"type": "string"},
            "resources": {"type": "array", "items": {"type": "string"}},
            "detail": {"$ref": f"#/definitions/{detail_name}"},
        },
        "definitions": {detail_name: detail, **definitions},
    }


def schema_content(detail_type: str, detail_schema: Mapping[str, Any]) -> str:
    """The registry schema's `Content`, compact: half the template would otherwise be schema indentation.
    The same schemas, indented, are docs/schemas/*.json."""
    return json.dumps(event_schema(detail_type, detail_schema), sort_keys=True, separators=(",", ":"))


def default_schemas() -> dict[str, dict[str, Any]]:
    return all_schemas()


def add_schema_registry(stack: Stack, schemas: Mapping[str, Mapping[str, Any]]) -> None:
    """The registry, and one schema per detail-type of `schemas` in it (the rest are in the families' stacks)."""
    stack.add(
        "EventSchemaRegistry",
        {
            "Type": "AWS::EventSchemas::Registry",
            "Properties": {
                "RegistryName": sub(REGISTRY_NAME),
                "Description": "Every event the cliniko-connector bus carries, generated from its event models.",
            },
        },
    )
    add_schemas(stack, schemas)


def add_schemas(stack: Stack, schemas: Mapping[str, Mapping[str, Any]], condition: str | None = None) -> None:
    """One registry schema per detail-type, generated from the same models as the code (see events_doc); only
    where `condition` holds, if given."""
    for detail_type, detail_schema in schemas.items():
        stack.add(
            schema_id(detail_type),
            {
                "Type": "AWS::EventSchemas::Schema",
                **({"Condition": condition} if condition else {}),
                "Properties": {
                    "RegistryName": get_att("EventSchemaRegistry", "RegistryName"),
                    "SchemaName": schema_name(detail_type),
                    "Type": "JSONSchemaDraft4",
                    "Description": f"detail-type `{detail_type}`",
                    "Content": schema_content(detail_type, detail_schema),
                },
            },
        )
