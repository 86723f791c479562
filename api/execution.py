"""Execution that ends only when every resolver has: no resolver outlives the request's transaction.

graphql-core 3.3 lets resolvers run on after the answer is known, in two ways, and both break a request whose
resolvers share one database connection inside one transaction:
- a selection's async fields (and a list's items) are awaited with ``gather_with_cancel``: the first error cancels
  every sibling still running, so a sibling cancelled in the middle of a query leaves the connection busy;
- a synchronous error while a list's items are collected leaves the items already started to "settle in the
  background" (``Executor.background_futures``), still running after ``execute`` has returned.
Either way the next statement (the COMMIT or ROLLBACK) failed with asyncpg's "another operation is in progress",
and one field's error (a non-null field with nothing to show) was reported as a database outage (UNAVAILABLE).
``gather_settled`` lets every sibling finish and then raises the first error, as graphql-core 3.2's ``gather``
did; ``SettledExecution`` waits for the background work before the result is handed back. The answer is the same
(the error's null covers the siblings' values either way); only the timing changes.
"""

from __future__ import annotations

from asyncio import ensure_future, gather, wait
from collections.abc import Awaitable
from typing import Any

import graphql.execution.executor as executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.compiled import Compiled


async def gather_settled(*awaitables: Awaitable[Any]) -> list[Any]:
    """Every awaitable run to its end; then the first error, if any, in their order."""
    results = await gather(*(ensure_future(a) for a in awaitables), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


class SettledExecution(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, whose result is ready only once no resolver is still running; a field's
    value already completed (``api.compiled.Compiled``: a hot list's page) is taken as it is."""

    def complete_value(self, return_type: Any, field_details_list: Any, info: Any, path: Any, result: Any,
                       position_context: Any) -> Any:
        if isinstance(result, Compiled):
            return result.value
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = super().execute_operation(serially)
        if not self.is_awaitable(result):
            return result

        async def settled() -> Any:
            try:
                return await result
            finally:
                while self.background_futures:
                    await wait(list(self.background_futures))

        return settled()


def install() -> None:
    """Make graphql-core's executor wait for siblings (its methods call this module-level helper)."""
    executor.gather_with_cancel = gather_settled  # type: ignore[attr-defined]
