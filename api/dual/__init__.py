"""双报到 through GraphQL: registrations, posts and coverage (registrations.py); each part of issue 18 its own
module, merged into the schema by api/schema.py."""
