"""The debtor's portal API: verify a pay link, then see the account and pay, plan, promise, dispute,
ask for help or set preferences (docs/portal-api.md). Lambda handler: `functions.portal_api.handler.handler`."""
