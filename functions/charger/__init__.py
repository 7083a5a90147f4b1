"""The charger: plan installments charged off-session, one SQS charge job per attempt."""
