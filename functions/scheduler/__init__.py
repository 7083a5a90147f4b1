"""The scheduler: on each EventBridge tick, find due accounts, decide, and enqueue contact jobs."""
