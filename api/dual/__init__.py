"""双报到 through GraphQL: one module per part (registrations, lists and wishes, activities, reports, emergency)."""
