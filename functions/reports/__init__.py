"""The lender report: a daily Lambda (handler), the library the simulation and the CLI call (service)."""
