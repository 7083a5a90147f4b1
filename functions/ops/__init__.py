"""The ops API: the work queue, an account's timeline and decision, and operators' actions (docs/ops.md).
Routes under /ops on the HTTP API with IAM (SigV4) authorization. Lambda handler: `functions.ops.handler.handler`."""
