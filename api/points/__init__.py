"""Points 积分 through GraphQL."""
