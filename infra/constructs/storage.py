"""The portfolio bucket (lenders' CSV uploads under portfolios/, ingestion reports under reports/) and the
log buckets: S3 server access logs of every bucket, and the CDN's access logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions import names
from infra.nag import acknowledge, skip_checkov

ACCESS_LOG_RETENTION = Duration.days(400)  # a year of access history, plus a month to investigate


class StorageConstruct(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = self._build_access_log_bucket()
        self.cdn_logs = self._build_cdn_log_bucket()
        self.portfolio_bucket = self._build_portfolio_bucket(key)

    def _build_access_log_bucket(self) -> s3.Bucket:
        # S3 server access logging delivers only to SSE-S3 buckets, under a bucket policy (no ACLs).
        bucket = self._log_bucket("AccessLogs", s3.ObjectOwnership.BUCKET_OWNER_ENFORCED)
        reason = "This is the access-log bucket: logging it into itself would loop."
        acknowledge(bucket, "AwsSolutions-S1", reason)
        skip_checkov(bucket, "CKV_AWS_18", reason)
        return bucket

    def _build_cdn_log_bucket(self) -> s3.Bucket:
        # CloudFront's standard logs are delivered by ACL grant: this bucket alone keeps ACLs enabled.
        bucket = self._log_bucket("CdnLogs", s3.ObjectOwnership.BUCKET_OWNER_PREFERRED)
        return bucket

    def _log_bucket(self, construct_id: str, ownership: s3.ObjectOwnership) -> s3.Bucket:
        is_cdn = ownership is not s3.ObjectOwnership.BUCKET_OWNER_ENFORCED
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=ownership,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_logs if is_cdn else None,
            server_access_logs_prefix="s3/cdn-logs/" if is_cdn else None,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireLogs",
                    expiration=ACCESS_LOG_RETENTION,
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _build_portfolio_bucket(self, key: kms.IKey) -> s3.Bucket:
        return s3.Bucket(
            self,
            "PortfolioBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="s3/portfolio/",
            lifecycle_rules=[
                s3.LifecycleRule(id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=Duration.days(7)),
                s3.LifecycleRule(
                    id="ExpireOldPortfolioVersions",
                    prefix=names.PORTFOLIO_PREFIX,
                    noncurrent_version_expiration=Duration.days(90),
                ),
                # Reports are kept (records of compliance: 3 years after the last activity, Reg F 1006.100)
                # but are rarely read after the first weeks; replaced versions go after a month.
                s3.LifecycleRule(
                    id="Reports",
                    prefix=names.REPORTS_PREFIX,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(90)
                        )
                    ],
                    noncurrent_version_expiration=Duration.days(30),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
