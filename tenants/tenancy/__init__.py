"""Tenants (a city or a county/district) and roles."""
