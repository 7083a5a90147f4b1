"""Names shared by the runtime, the CDK app, the local stack and the tests.

Environment variable names and stack output ids live here so that infra, handlers and the local
stack cannot drift apart.
"""

# Environment variables read by the functions' settings modules.
ENV_ACCOUNTS_TABLE = "ACCOUNTS_TABLE"
ENV_EVENTS_TABLE = "EVENTS_TABLE"
ENV_UPLOADS_TABLE = "UPLOADS_TABLE"
ENV_LENDERS_TABLE = "LENDERS_TABLE"
ENV_IDEMPOTENCY_TABLE = "IDEMPOTENCY_TABLE"
ENV_EXPERIMENTS_TABLE = "EXPERIMENTS_TABLE"
ENV_KEYS_TABLE = "KEYS_TABLE"  # the KMS-wrapped PII key-encryption keys (functions.store.pii)
ENV_DUE_SHARDS = "DUE_SHARDS"
ENV_PORTFOLIO_BUCKET = "PORTFOLIO_BUCKET"
ENV_EMAIL_QUEUE_URL = "EMAIL_QUEUE_URL"
ENV_SMS_QUEUE_URL = "SMS_QUEUE_URL"
ENV_CHARGE_QUEUE_URL = "CHARGE_QUEUE_URL"  # plan installments to charge off-session (scheduler -> charger)
ENV_PROPENSITY_MODEL = "PROPENSITY_MODEL"  # s3://<bucket>/models/propensity/<version>.json; unset: the shipped model
ENV_DEFAULT_SENDER_EMAIL = "DEFAULT_SENDER_EMAIL"
ENV_SES_CONFIGURATION_SET = "SES_CONFIGURATION_SET"
ENV_INGEST_QUEUE_URL = "INGEST_QUEUE_URL"  # chunks of portfolio uploads
ENV_INGEST_CHUNK_SECONDS = "INGEST_CHUNK_SECONDS"  # time budget of one chunk (bounded by Lambda's remaining time)
ENV_VERIFICATION_KEY_SECRET = "VERIFICATION_KEY_SECRET"  # Secrets Manager id of the identity-fact HMAC key
ENV_PII_KEY_ID = "PII_KEY_ID"  # the KMS key that wraps the PII key-encryption keys (functions.store.pii)
ENV_LINK_KEY_SECRET = "LINK_KEY_SECRET"  # Secrets Manager id of the pay-link signing key (core.links)
ENV_PORTAL_URL = "PORTAL_URL"  # the pay page's base URL, e.g. https://pay.example.com
ENV_PORTAL_API_URL = "PORTAL_API_URL"  # the HTTP API's base URL (unsubscribe links point at it)
ENV_STRIPE_SECRET = "STRIPE_SECRET"  # Secrets Manager id of {"api_key": "sk_...", "webhook_secret": "whsec_..."}
ENV_STRIPE_API_BASE = "STRIPE_API_BASE"  # unset in AWS (real Stripe); the local emulator's URL locally
ENV_SMS_SENDER_ID = "SMS_SENDER_ID"  # default AWS.SNS.SMS.SenderID (a lender's own id takes precedence); may be ""

# CloudWatch metrics (namespace "cleardue", Powertools' `service` dimension) that the stack's alarms and
# dashboard read: the producers emit them under exactly these names.
METRIC_WEBHOOK_SIGNATURE_FAILURES = "WebhookSignatureFailures"  # webhooks: a Stripe signature did not verify
METRIC_PAYMENTS_APPLIED = "PaymentsApplied"  # webhooks: a payment applied to an account (count)
METRIC_AMOUNT_COLLECTED = "AmountCollected"  # webhooks: minor units applied, with a `currency` dimension
METRIC_PORTAL_VERIFIED = "PortalVerified"  # portal_api: a debtor passed the identity check (count)
METRIC_PORTAL_VERIFICATION_FAILED = "PortalVerificationFailed"  # portal_api: a wrong answer (count)
METRIC_PORTAL_LOCKOUTS = "PortalLockouts"  # portal_api: a link locked after repeated failures (count)
METRIC_CHECKOUTS_STARTED = "CheckoutsStarted"  # portal_api: a Stripe Checkout session opened (payment or plan)
METRIC_INSTALLMENT_CHARGES = "InstallmentCharges"  # charger: an off-session charge made, with an `outcome` dimension

# Stack outputs (CloudFormation output ids); .local/outputs.json uses the same keys.
OUTPUT_PORTFOLIO_BUCKET = "PortfolioBucketName"
OUTPUT_ACCOUNTS_TABLE = "AccountsTableName"
OUTPUT_EVENTS_TABLE = "EventsTableName"
OUTPUT_UPLOADS_TABLE = "UploadsTableName"
OUTPUT_LENDERS_TABLE = "LendersTableName"
OUTPUT_IDEMPOTENCY_TABLE = "IdempotencyTableName"
OUTPUT_EXPERIMENTS_TABLE = "ExperimentsTableName"
OUTPUT_KEYS_TABLE = "KeysTableName"
OUTPUT_EMAIL_QUEUE_URL = "EmailQueueUrl"
OUTPUT_EMAIL_DLQ_URL = "EmailDeadLetterQueueUrl"
OUTPUT_SMS_QUEUE_URL = "SmsQueueUrl"
OUTPUT_SMS_DLQ_URL = "SmsDeadLetterQueueUrl"
OUTPUT_INGEST_QUEUE_URL = "IngestQueueUrl"
OUTPUT_INGEST_DLQ_URL = "IngestDeadLetterQueueUrl"
OUTPUT_CHARGE_QUEUE_URL = "ChargeQueueUrl"
OUTPUT_CHARGE_DLQ_URL = "ChargeDeadLetterQueueUrl"
OUTPUT_REGION = "Region"
OUTPUT_API_URL = "ApiUrl"  # the HTTP API (portal API routes and POST /webhooks/stripe)
OUTPUT_PORTAL_URL = "PortalUrl"  # the pay page (CloudFront, or the configured portal domain)
OUTPUT_SES_EVENTS_TOPIC = "SesEventsTopicArn"  # SES configuration-set events -> webhooks events_handler
OUTPUT_ALARM_TOPIC = "AlarmTopicArn"
OUTPUT_STRIPE_SECRET = "StripeSecretArn"  # fill in {"api_key", "webhook_secret"} after the first deploy

# Each table by its StoreSettings field: the environment variable the functions read its name from, and
# the stack output that names it.
TABLE_ENV_VARS = {
    "accounts_table": ENV_ACCOUNTS_TABLE,
    "events_table": ENV_EVENTS_TABLE,
    "uploads_table": ENV_UPLOADS_TABLE,
    "lenders_table": ENV_LENDERS_TABLE,
    "idempotency_table": ENV_IDEMPOTENCY_TABLE,
    "experiments_table": ENV_EXPERIMENTS_TABLE,
    "keys_table": ENV_KEYS_TABLE,
}
TABLE_OUTPUTS = {
    "accounts_table": OUTPUT_ACCOUNTS_TABLE,
    "events_table": OUTPUT_EVENTS_TABLE,
    "uploads_table": OUTPUT_UPLOADS_TABLE,
    "lenders_table": OUTPUT_LENDERS_TABLE,
    "idempotency_table": OUTPUT_IDEMPOTENCY_TABLE,
    "experiments_table": OUTPUT_EXPERIMENTS_TABLE,
    "keys_table": OUTPUT_KEYS_TABLE,
}

# Local-stack-only outputs.
OUTPUT_AWS_ENDPOINT = "AwsEndpoint"
OUTPUT_STRIPE_API_BASE = "StripeApiBase"  # the local Stripe emulator's URL (local/stripe_emulator)
OUTPUT_STRIPE_WEBHOOK_SECRET = "StripeWebhookSecret"  # the whsec_ the emulator signs its webhooks with

# S3 layout of the portfolio bucket.
PORTFOLIO_PREFIX = "portfolios/"
POLICY_PREFIX = "lenders/"
REPORTS_PREFIX = "reports/"
PROPENSITY_MODEL_PREFIX = "models/propensity/"  # cleardue train: <version>.json and latest.json (docs/learning.md)
PROPENSITY_MODEL_KEY = "models/propensity/latest.json"  # the artifact the deployed scheduler reads
# The files S3 announces to ingest: (key prefix, key suffix), one bucket notification each.
NOTIFIED_FILES = (
    (PORTFOLIO_PREFIX, ".csv"),
    (POLICY_PREFIX, ".yaml"),
    (POLICY_PREFIX, ".yml"),
    (POLICY_PREFIX, ".json"),
)

# Every SQS job queue: a message is retried this many times before it lands in the DLQ.
MAX_RECEIVE_COUNT = 5
# Number of partitions of the sparse `due` index (configurable per deployment through DUE_SHARDS).
DEFAULT_DUE_SHARDS = 16
