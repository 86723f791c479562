"""Joint meetings 联席会议 through GraphQL (issue 19 part B)."""
