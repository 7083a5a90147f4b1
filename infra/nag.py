"""Policy checks on the synthesized stack: cdk-nag's AwsSolutions pack (run at synth) and checkov skips.

Every exception to a rule is written where the resource is built, with the reason it does not apply.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, App, CfnResource, Stack, Token, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def apply_checks(app: App) -> None:
    """cdk-nag 3: an unacknowledged finding fails synthesis (`cdk synth`, `Template.from_stack`)."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge a cdk-nag finding on scope and everything under it, with the reason it does not apply."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_resource(scope: IConstruct, resource: str, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 (a wildcard in a granted resource) for one resource, written as cdk-nag prints
    it (`*`, `<LogicalId.Arn>/prefix*`, or an ARN with `<AWS::...>` pseudo parameters)."""
    acknowledge(scope, f"AwsSolutions-IAM5[Resource::{finding_arn(Stack.of(scope), resource)}]", reason)


def finding_arn(stack: Stack, arn: str) -> str:
    """An ARN as cdk-nag prints it in a finding id: pseudo parameters the stack knows become literals
    (`cdk synth` through the CLI knows the region; the tests' environment-agnostic synth does not)."""
    for placeholder, value in (
        ("<AWS::Partition>", stack.partition),
        ("<AWS::Region>", stack.region),
        ("<AWS::AccountId>", stack.account),
    ):
        if not Token.is_unresolved(value):
            arn = arn.replace(placeholder, value)
    return arn


def skip_checkov(scope: IConstruct, check_id: str, comment: str) -> None:
    """Record a justified checkov skip in the resource's CloudFormation metadata (checkov reads it there)."""
    resource = _cfn_resource(scope)
    metadata: dict[str, Any] = resource.get_metadata("checkov") or {"skip": []}
    metadata["skip"] = [*metadata["skip"], {"id": check_id, "comment": comment}]
    resource.add_metadata("checkov", metadata)


def _cfn_resource(scope: IConstruct) -> CfnResource:
    if isinstance(scope, CfnResource):
        return scope
    child = scope.node.default_child
    if not isinstance(child, CfnResource):
        raise TypeError(f"{scope.node.path} has no CloudFormation resource of its own")
    return child
