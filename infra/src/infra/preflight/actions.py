"""Which IAM actions CloudFormation needs to create, update and delete each resource of a template.

The table (resource_actions.json, next to this module) is data taken from the CloudFormation resource
provider schemas' `handlers.{create,update,delete}.permissions`, for every type the synthesized stacks use;
`make preflight-table` regenerates it (infra/src/infra/preflight/table.py). Types outside the registry
have hand-written entries marked `"source": "manual"`:

- `Custom::*` (and AWS::CloudFormation::CustomResource): CloudFormation only invokes the provider Lambda
  with the deploy role (`lambda:InvokeFunction`); the Lambda's own role does the work, and that role and
  function are template resources of their own (AWS::IAM::Role, AWS::Lambda::Function) with their entries.
- AWS::CDK::Metadata: recorded by CloudFormation itself, no API call.

Stable API (the pipelines stack reuses it to scope the bootstrap's CloudFormation execution policy):
`required_actions(template) -> list[ResourceActions]` and `actions_for_type(type)`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

TABLE_FILE = Path(__file__).with_name("resource_actions.json")
OPERATIONS = ("create", "update", "delete")
CUSTOM_RESOURCE_KEY = "Custom::*"


class UnknownResourceType(KeyError):
    """A template uses a type the table has no entry for: run `make preflight-table`."""

    def __str__(self) -> str:
        return (
            f"no IAM actions known for resource type {self.args[0]}; run `make preflight-table` to add it "
            "from the CloudFormation resource schemas"
        )


@dataclass(frozen=True)
class TypeActions:
    create: tuple[str, ...]
    update: tuple[str, ...]
    delete: tuple[str, ...]

    def all(self) -> tuple[str, ...]:
        return tuple(sorted({*self.create, *self.update, *self.delete}))


@dataclass(frozen=True)
class ResourceActions:
    logical_id: str
    type: str
    actions: TypeActions


@lru_cache(maxsize=1)
def load_table(path: Path = TABLE_FILE) -> Mapping[str, TypeActions]:
    raw = json.loads(path.read_text())["types"]
    return {
        name: TypeActions(*(tuple(entry.get(op, ())) for op in OPERATIONS)) for name, entry in raw.items()
    }


def table_key(resource_type: str) -> str:
    if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
        return CUSTOM_RESOURCE_KEY
    return resource_type


def actions_for_type(resource_type: str) -> TypeActions:
    try:
        return load_table()[table_key(resource_type)]
    except KeyError:
        raise UnknownResourceType(resource_type) from None


def required_actions(template: Mapping[str, Any]) -> list[ResourceActions]:
    """Every resource of a CloudFormation template with the actions its create/update/delete need."""
    return [
        ResourceActions(logical_id, resource["Type"], actions_for_type(resource["Type"]))
        for logical_id, resource in template.get("Resources", {}).items()
    ]


def resource_types(template: Mapping[str, Any]) -> set[str]:
    return {resource["Type"] for resource in template.get("Resources", {}).values()}
