"""The HTTP and GraphQL edge of civicgrid: thin resolvers over ``tenants`` services."""
