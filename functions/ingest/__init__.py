"""Portfolio ingestion: S3 ObjectCreated -> validated rows upserted into the accounts table."""
