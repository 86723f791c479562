"""Roles and scope entries live in the core (``tenants.roles``), below ``tenants.permissions``; this name stays for
the modules that import them from tenancy."""

from tenants.roles import SCOPE_KINDS, Role, ScopeEntry, parse_scope_entry

__all__ = ["SCOPE_KINDS", "Role", "ScopeEntry", "parse_scope_entry"]
