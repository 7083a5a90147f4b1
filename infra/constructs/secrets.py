"""Secrets the functions read through Powertools parameters (cached), never from plain environment values."""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge

STRIPE_PLACEHOLDER = "REPLACE_WITH_STRIPE_SECRET_KEY"


class SecretsConstruct(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self._key = key
        self.verification_key = self._build_generated_key(
            "VerificationKey",
            "cleardue: HMAC key for debtors' identity facts",
            unrotated_because="Identity facts are stored as HMACs under this key: rotating it would orphan every "
            "stored hash, so it is rotated only together with a re-placement of the portfolios (docs/deploy.md).",
        )
        self.link_key = self._build_generated_key(
            "LinkKey",
            "cleardue: HMAC key that signs debtors' pay links",
            unrotated_because="Rotating the link-signing key invalidates every pay link already sent; it is rotated by "
            "hand in a quiet window (docs/deploy.md), not on a schedule.",
        )
        self.stripe = self._build_stripe_secret()

    def _build_generated_key(
        self, construct_id: str, description: str, *, unrotated_because: str
    ) -> secretsmanager.Secret:
        """A random 64-character key, rotated by hand only (the reason is cdk-nag's SMG4 acknowledgment)."""
        secret = secretsmanager.Secret(
            self,
            construct_id,
            description=description,
            encryption_key=self._key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True, include_space=False
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(secret, "AwsSolutions-SMG4", unrotated_because)
        return secret

    def _build_stripe_secret(self) -> secretsmanager.Secret:
        # Stripe issues both values: the operator puts them in after the first deploy (docs/deploy.md). Until
        # then the API key is a placeholder Stripe rejects, and the webhook secret a random one no event matches.
        secret = secretsmanager.Secret(
            self,
            "Stripe",
            description='cleardue: Stripe {"api_key": "sk_...", "webhook_secret": "whsec_..."}',
            encryption_key=self._key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"api_key": STRIPE_PLACEHOLDER}),
                generate_string_key="webhook_secret",
                password_length=32,
                exclude_punctuation=True,
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "Stripe issues and rolls these keys (Dashboard > Developers); Secrets Manager cannot rotate them.",
        )
        return secret
