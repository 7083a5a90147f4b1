"""Payments: every Stripe call goes through `stripe_gateway` (the official SDK, no AWS imports)."""
