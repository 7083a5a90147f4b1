"""The portfolio bucket: lenders' CSV uploads under portfolios/, ingestion reports under reports/."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions import names


class StorageConstruct(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.portfolio_bucket = self._build_portfolio_bucket(key)

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
            lifecycle_rules=[
                s3.LifecycleRule(id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=Duration.days(7)),
                s3.LifecycleRule(
                    id="ExpireOldPortfolioVersions",
                    prefix=names.PORTFOLIO_PREFIX,
                    noncurrent_version_expiration=Duration.days(90),
                ),
                s3.LifecycleRule(
                    id="ExpireOldReportVersions",
                    prefix=names.REPORTS_PREFIX,
                    noncurrent_version_expiration=Duration.days(30),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
