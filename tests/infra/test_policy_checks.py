"""The three policy gates on the synthesized template: cdk-nag (at synth), cfn-lint and checkov."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs

from infra.nag import acknowledge, apply_checks

pytestmark = pytest.mark.infra

BIN = Path(sys.executable).parent
MIN_REASON_LENGTH = 40  # a sentence, not "ok"


def _acknowledgments(synthesized) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for path, entries in synthesized.metadata().items():
        for entry in entries:
            if entry["type"] == "aws:cdk:acknowledged-rules":
                found.setdefault(path, {}).update(entry["data"])
    return found


def test_cdk_nag_fails_synthesis_on_an_unacknowledged_finding(tmp_path):
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Bad")
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.UNENCRYPTED)  # SQS2/SQS3/SQS4
    apply_checks(app)

    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for r in report["pluginReports"] for v in r["violations"]}
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules


def test_an_acknowledgment_silences_exactly_its_rule(tmp_path):
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Bad")
    queue = sqs.Queue(stack, "Plain", enforce_ssl=True)
    acknowledge(queue, "AwsSolutions-SQS3", "A test queue standing in for a dead-letter queue itself.")
    apply_checks(app)

    app.synth()  # SQS4 (TLS) is satisfied, SQS3 acknowledged: nothing left


def test_the_stack_passes_cdk_nag_and_every_acknowledgment_says_why(synthesized):
    acknowledgments = _acknowledgments(synthesized)  # the session fixture synthesized with the checks applied

    assert acknowledgments
    for path, rules in acknowledgments.items():
        for rule, reason in rules.items():
            assert "AwsSolutions-" in rule, (path, rule)
            assert len(reason) >= MIN_REASON_LENGTH, (path, rule, reason)


def test_cfn_lint_finds_no_error(synthesized):
    # W3005: CDK's own redundant DependsOn.
    result = subprocess.run(
        [BIN / "cfn-lint", "-i", "W3005", "--", str(synthesized.template_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_finds_no_failed_check_and_every_skip_is_justified(synthesized, tmp_path):
    result = subprocess.run(
        [
            BIN / "checkov",
            "--file",
            str(synthesized.template_file),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--quiet",
            "--skip-download",  # offline: no Prisma Cloud guidelines
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": str(BIN), "HOME": str(tmp_path), "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(result.stdout)
    results = report["results"]

    failed = [(c["check_id"], c["resource"]) for c in results["failed_checks"]]
    assert failed == [], failed
    assert report["summary"]["passed"] > 200
    for check in results.get("skipped_checks", []):
        assert len(check["check_result"].get("suppress_comment", "")) >= MIN_REASON_LENGTH, check["check_id"]
