"""Which lenders an IAM principal may see, from its name (pure: no AWS call).

HTTP API payload 2.0 gives the IAM-authorized caller as `requestContext.authorizer.iam` (accessKey, accountId,
callerId, principalOrgId, userArn, userId): no principal tags. So the name carries the scope:
- a role assumed as `cleardue-ops`, `cleardue-ops-<anything>` or `cleardue-ops.<anything>` (or an IAM user so
  named): the ops team, every lender;
- a role (or user) named `cleardue-lender-<lender_id>` or `cleardue-lender-<lender_id>.<anything>`: that one
  lender (a lender id has no dot, so the dot ends it; lender ids are [a-z0-9-]);
- anything else (another role or user, a federated user, the account root): no lender at all.
A session ARN (`arn:aws:sts::<account>:assumed-role/<role name>/<session>`) names the role; an IAM user ARN
(`arn:aws:iam::<account>:user[/<path>]/<name>`) ends with the user's name."""

from __future__ import annotations

import re

OPS_NAME = re.compile(r"^cleardue-ops(?:[-.][\w+=,.@-]*)?$")
LENDER_NAME = re.compile(r"^cleardue-lender-(?P<lender>[a-z0-9][a-z0-9-]{1,62})(?:\.[\w+=,.@-]*)?$")
_SESSION_ARN = re.compile(r"^arn:aws[a-z-]*:sts::\d{12}:assumed-role/(?P<name>[\w+=,.@-]+)/[\w+=,.@-]+$")
_USER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:user/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]+)$")

EVERY_LENDER = None  # the scope of the ops team


class NoScope(Exception):
    """The principal is authenticated but names no cleardue scope."""


def principal_name(arn: str) -> str | None:
    """The role name of an assumed-role session, or the user name of an IAM user; None for anything else."""
    match = _SESSION_ARN.match(arn) or _USER_ARN.match(arn)
    return match["name"] if match else None


def lenders_of(arn: str) -> frozenset[str] | None:
    """The lenders `arn` may see: None for every lender (ops), a set of one lender id for a lender's role.

    Raises NoScope for a principal that is neither."""
    name = principal_name(arn)
    if name is None:
        raise NoScope(f"{arn} is not an IAM role session or user")
    if OPS_NAME.match(name):
        return EVERY_LENDER
    if match := LENDER_NAME.match(name):
        return frozenset({match["lender"]})
    raise NoScope(f"{name} is neither a cleardue-ops nor a cleardue-lender-<lender_id> principal")
