"""An append-only audit log of changes, per tenant."""
