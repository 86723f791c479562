"""One database transaction per GraphQL operation: the caller's tenant scope (for row-level security), or the
platform path for platform principals. A mutation operation with any error is rolled back whole."""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.errors import outage, shape, unavailable
from tenants.db import is_outage
from tenants.scope import platform_transaction, scoped_transaction, tenant_context


class _RollBack(Exception):
    pass


class OperationTransaction(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        principal = self.execution_context.context.principal
        entered = False
        try:
            if principal.tenant_id is None:
                async with platform_transaction():
                    entered = True
                    yield
                    self._roll_back_failed_mutation()
            else:
                with tenant_context(principal.tenant_id):
                    async with scoped_transaction():
                        entered = True
                        yield
                        self._roll_back_failed_mutation()
        except _RollBack:
            pass
        except Exception as exc:
            # The database was lost: before the transaction began (nothing ran), or at the commit or the rollback
            # (whether the work was saved is unknown). The answer says so (UNAVAILABLE, retryable; data withheld),
            # the outage is logged once.
            # Anything else is a fault of ours: masked as INTERNAL_ERROR and logged, never raw text to the client.
            if is_outage(exc):
                outage.failed(exc)
                error = unavailable()
            else:
                error = shape(GraphQLError(str(exc), original_error=exc))
            if not entered:  # the operation must not run: answer in its place (strawberry skips a set result)
                self.execution_context.result = ExecutionResult(data=None, errors=[error])
                yield
                return
            result = self.execution_context.result
            if result is not None:
                result.data = None
                result.errors = [error]
            return
        outage.answered()

    def _roll_back_failed_mutation(self) -> None:
        result = self.execution_context.result
        is_mutation = self.execution_context.operation_type == OperationType.MUTATION
        if is_mutation and result is not None and result.errors:
            raise _RollBack


