"""Webhook delivery as Stripe does it: each event POSTed as JSON to the endpoint, signed
`Stripe-Signature: t=<unix>,v1=HMAC-SHA256(secret, f"{t}.{body}")` (re-signed on every attempt),
retried with backoff on a non-2xx answer or a connection error, from a background thread."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

# Local delays between attempts (Stripe's are hours apart over three days); configurable per emulator.
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)
REQUEST_TIMEOUT_SECONDS = 10.0


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header value for a payload."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass(slots=True)
class Attempt:
    event_id: str
    event_type: str
    attempt: int
    url: str
    status: int | None  # HTTP status, None for a connection error
    error: str | None
    at: float
    delivered: bool
    final: bool  # no further attempt will follow (delivered, or retries exhausted)


class WebhookDeliverer:
    """A queue of (due time, event) handled by one thread; failed attempts are rescheduled."""

    def __init__(
        self,
        secret: str,
        url: str | None = None,
        retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.url = url
        self.retry_delays = retry_delays
        self._clock = clock
        self._queue: list[tuple[float, int, dict[str, Any], int]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._attempts: list[Attempt] = []
        self._in_flight = 0
        self._stopped = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="stripe-emulator-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=REQUEST_TIMEOUT_SECONDS + 1)
            self._thread = None

    def enqueue(self, event: dict[str, Any]) -> None:
        """Queue an event for the current endpoint (none set: the event is only listed in /v1/events)."""
        with self._cond:
            if self.url is None:
                return
            heapq.heappush(self._queue, (time.monotonic(), next(self._order), event, 1))
            self._cond.notify_all()

    def attempts(self) -> list[dict[str, Any]]:
        with self._cond:
            return [asdict(a) for a in self._attempts]

    def clear(self) -> None:
        with self._cond:
            self._queue.clear()
            self._attempts.clear()

    def idle(self) -> bool:
        with self._cond:
            return not self._queue and self._in_flight == 0

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or in flight (retries included); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._queue or self._queue[0][0] > time.monotonic()):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _, _, event, attempt = heapq.heappop(self._queue)
                url = self.url
                self._in_flight += 1
            try:
                record = self._deliver(url, event, attempt) if url else None
            finally:
                with self._cond:
                    self._in_flight -= 1
                    if record is not None:
                        self._attempts.append(record)
                        if not record.final:
                            delay = self.retry_delays[attempt - 1]
                            heapq.heappush(
                                self._queue, (time.monotonic() + delay, next(self._order), event, attempt + 1)
                            )
                    self._cond.notify_all()

    def _deliver(self, url: str, event: dict[str, Any], attempt: int) -> Attempt:
        payload = json.dumps(event, indent=2)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(payload, self.secret, int(self._clock())),
        }
        request = urllib.request.Request(url, data=payload.encode("utf-8"), headers=headers, method="POST")
        status: int | None = None
        error: str | None = None
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            error = f"connection error: {getattr(exc, 'reason', exc)}"
        delivered = status is not None and 200 <= status < 300
        exhausted = attempt > len(self.retry_delays)
        return Attempt(
            event_id=event["id"],
            event_type=event["type"],
            attempt=attempt,
            url=url,
            status=status,
            error=error,
            at=time.time(),
            delivered=delivered,
            final=delivered or exhausted,
        )
