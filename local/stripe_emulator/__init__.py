"""A local Stripe: the API endpoints cleardue calls, a hosted checkout page and signed webhooks."""

from .server import DEFAULT_WEBHOOK_SECRET, StripeEmulator
from .webhooks import sign

__all__ = ["DEFAULT_WEBHOOK_SECRET", "StripeEmulator", "sign"]
