"""Shared fixtures: fake AWS credentials, moto (in-process) with tables from the PynamoDB models."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.models import MockAWS

from functions import names
from functions.store import tables
from functions.store.settings import StoreSettings
from local import moto_tuning
from local.lambda_events import LocalLambdaContext
from tests import pii_sentinel

moto_tuning.apply()

_pii_sentinel = pii_sentinel.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No log line of the whole run may hold a sample debtor's PII (tests/pii_sentinel.py). Under pytest-xdist
    each worker hands its leaks to the controller (`workeroutput`), which fails the run: a worker's own exit
    status is not the run's."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["pii_leaks"] = _pii_sentinel.leaks[:20]
        return
    if _pii_sentinel.leaks:
        print("\nPII in the functions' logs during the test session:", *_pii_sentinel.leaks[:20], sep="\n  ")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist (controller): a worker finished; keep the PII its tests' log lines held."""
    _pii_sentinel.leaks.extend(getattr(node, "workeroutput", {}).get("pii_leaks", []))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`make test` runs on two pytest-xdist workers (`--dist loadgroup`): each file's tests stay on one worker
    (its module fixtures are built once), and the infra tests share one (one synthesis of the CDK app)."""
    for item in items:
        path = item.path.relative_to(ROOT)
        item.add_marker(pytest.mark.xdist_group("infra" if path.parts[:2] == ("tests", "infra") else str(path)))


REGION = "us-east-1"
SENDER = "reminders@lender.example.com"
BUCKET = "portfolios-test"
FACT_KEY = b"test-fact-key-0123456789abcdef"
LINK_KEY = b"test-link-signing-key-0123456789abcdef"
PORTAL_URL = "https://pay.test.cleardue.example"
PORTAL_API_URL = "https://api.test.cleardue.example"
ROOT = Path(__file__).resolve().parents[1]
AXE_DIR = ROOT / ".local" / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
AXE_VERSION = "4"  # npm range; 4.x reports impact per violation (minor, moderate, serious, critical)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_METRICS_NAMESPACE": "cleardue-test",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def moto_environment(settings: StoreSettings) -> dict[str, str]:
    """Fake credentials, the region, the due shards and every table's name: what a fixture sets before moto
    (a module-scoped one too, which the function-scoped `aws_credentials` does not reach)."""
    return {
        **FAKE_AWS_ENVIRONMENT,
        names.ENV_DUE_SHARDS: str(settings.due_shards),
        **settings.table_environment(),
    }


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never reach a real account: fake credentials, no endpoint override unless a test sets one."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in FAKE_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(key, value)


def _reset_runtimes() -> None:
    from aws_lambda_powertools.utilities import parameters

    from functions.ingest import handler as ingest
    from functions.observability import metrics
    from functions.scheduler import handler as scheduler
    from functions.sender import handler as sender

    for module in (ingest, scheduler, sender):
        module._runtime.cache_clear()
    metrics.clear_metrics()
    parameters.clear_caches()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto in-process with every table, the portfolio bucket, the email queue and a verified sender."""
    settings = StoreSettings(region=REGION, due_shards=4)
    for env_name, value in moto_environment(settings).items():
        monkeypatch.setenv(env_name, value)
    if MockAWS._nested_count:  # a nested mock_aws does not start empty: every create below would collide
        pytest.fail("another fixture's mock_aws is still active (a wider-scoped fixture leaked past its tests)")
    with mock_aws():
        tables.create_all_tables(settings)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="email-jobs")["QueueUrl"]
        ingest_queue_url = sqs.create_queue(QueueName="ingest-chunks")["QueueUrl"]
        monkeypatch.setenv(names.ENV_INGEST_QUEUE_URL, ingest_queue_url)
        boto3.client("ses").verify_domain_identity(Domain=SENDER.split("@")[1])
        boto3.client("secretsmanager").create_secret(Name="verification-key", SecretString=FACT_KEY.decode())
        monkeypatch.setenv(names.ENV_VERIFICATION_KEY_SECRET, "verification-key")
        boto3.client("secretsmanager").create_secret(Name="link-key", SecretString=LINK_KEY.decode())
        monkeypatch.setenv(names.ENV_LINK_KEY_SECRET, "link-key")
        monkeypatch.setenv(names.ENV_PORTAL_URL, PORTAL_URL)
        monkeypatch.setenv(names.ENV_PORTAL_API_URL, PORTAL_API_URL)
        monkeypatch.setenv(names.ENV_EMAIL_QUEUE_URL, queue_url)
        monkeypatch.setenv(names.ENV_DEFAULT_SENDER_EMAIL, SENDER)
        os.environ.pop(names.ENV_SES_CONFIGURATION_SET, None)
        _reset_runtimes()
        yield {"settings": settings, "s3": s3, "sqs": sqs, "queue_url": queue_url, "ingest_queue_url": ingest_queue_url}
        _reset_runtimes()


@pytest.fixture
def context() -> LocalLambdaContext:
    return LocalLambdaContext("cleardue-test")


# One headless Chromium for the session: playwright's sync API allows one running instance per thread,
# so every browser test (the pay page, the emulator's checkout page) shares it.
@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's browser bundle (npm install into .local/axe once; the folder is ignored by git)."""
    AXE_DIR.mkdir(parents=True, exist_ok=True)
    with (AXE_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two pytest-xdist workers may both need it first
        if not AXE_JS.exists():
            npm = shutil.which("npm")
            if npm is None:
                pytest.fail("npm is needed to fetch axe-core (Node 20 ships it)")
            subprocess.run(
                [npm, "install", "--prefix", str(AXE_DIR), f"axe-core@{AXE_VERSION}", "--no-audit", "--no-fund"],
                check=True,
                capture_output=True,
                timeout=300,
            )
        return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Debian chromium is not installed: `make browser` (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
