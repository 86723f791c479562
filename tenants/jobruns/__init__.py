"""A record of every scheduled job run, one per (tenant, kind, period, run number)."""
