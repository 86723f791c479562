"""The core of civicgrid: tenancy, configuration and everything a tenant owns, one package per domain."""
