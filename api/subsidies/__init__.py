"""以奖代补 settlement statements through GraphQL, and their exports for the finance office."""
