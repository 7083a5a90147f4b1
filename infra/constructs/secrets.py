"""Secrets the functions read through Powertools parameters (cached), never from plain environment values."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct


class SecretsConstruct(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.verification_key = self._build_verification_key(key)

    def _build_verification_key(self, key: kms.IKey) -> secretsmanager.Secret:
        # The HMAC key identity facts (date of birth, ...) are hashed with. Rotating it would orphan every
        # stored hash, so it is retained and rotated only with a re-placement of the portfolios.
        return secretsmanager.Secret(
            self,
            "VerificationKey",
            description="cleardue: HMAC key for debtors' identity facts",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True, include_space=False
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
