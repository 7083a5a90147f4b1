"""Run the emulator alone: `python -m local.stripe_emulator --port 12111 --webhook-url URL`."""

from __future__ import annotations

import argparse
import time

from .server import DEFAULT_WEBHOOK_SECRET, StripeEmulator


def main() -> None:
    parser = argparse.ArgumentParser(description="A local Stripe API, checkout page and webhook sender")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--webhook-secret", default=DEFAULT_WEBHOOK_SECRET)
    args = parser.parse_args()
    with StripeEmulator(args.host, args.port, args.webhook_url, args.webhook_secret) as emulator:
        print(f"Stripe emulator on {emulator.base_url} (webhooks to {args.webhook_url or 'nowhere'})", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
