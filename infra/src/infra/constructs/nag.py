"""cdk-nag acknowledgments: every one carries the reason it is acceptable here."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding (`IAM5[Resource::*]` style ids included) with its reason."""
    if len(reason) < 20:
        raise ValueError(f"the reason for acknowledging {rule} must explain itself: {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions-{rule}", reason=reason))
