"""Stripe, SES and SNS webhooks (built in its own issue): payments applied once, engagement learned."""
