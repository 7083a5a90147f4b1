"""The debtor's portal API (built in its own issue): verify, account, pay, plan, promise, dispute."""
