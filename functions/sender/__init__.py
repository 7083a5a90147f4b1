"""The sender: SQS contact jobs -> re-check -> render -> SES, once per job, audited."""
