"""One database transaction per GraphQL operation, bound to the caller's tenant for row-level security."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from tenants.scope import scoped_transaction, tenant_context


class _RollBack(Exception):
    pass


class TenantTransaction(SchemaExtension):
    """Tenant requests run inside one scoped transaction; a mutation with any error is rolled back whole."""

    async def on_execute(self) -> AsyncIterator[None]:
        principal = self.execution_context.context.principal
        if principal.tenant_id is None:
            # Platform principals take the explicit platform path inside each service call.
            yield
            return
        try:
            with tenant_context(principal.tenant_id):
                async with scoped_transaction():
                    yield
                    result = self.execution_context.result
                    is_mutation = self.execution_context.operation_type == OperationType.MUTATION
                    if is_mutation and result is not None and result.errors:
                        raise _RollBack
        except _RollBack:
            pass
