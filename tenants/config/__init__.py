"""Tenant configuration 租户配置: the validated document, inheritance down the tenant chain, diffs."""

from tenants.config.document import ConfigDocument
from tenants.config.merge import check_overrides, deep_merge, diff, effective, flatten, validate_document

__all__ = [
    "ConfigDocument",
    "check_overrides",
    "deep_merge",
    "diff",
    "effective",
    "flatten",
    "validate_document",
]
