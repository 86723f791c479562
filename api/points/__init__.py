"""Points 积分 through GraphQL and exports."""
