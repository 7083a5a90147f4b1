"""The domain: pure Python, no AWS, Stripe or Powertools import. Time always comes from the caller."""
