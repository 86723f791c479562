"""arq worker: cron ticks fan out one job per tenant; each job calls a ``tenants`` service in its scope."""
