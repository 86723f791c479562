"""Limits on the work a query asks for, built once per schema so strawberry's validation cache can hit.

Depth, alias and token limits bound the text; fragments spread twice, level after level, still ask for 2^n fields
in a few hundred bytes. ``max_fields`` bounds the fields an operation selects with every fragment expanded,
counted once per fragment (memoised), before any validation rule walks the document.
"""

from __future__ import annotations

import contextlib
import functools
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.schema import validate_document

from tenants.settings import Settings


def fields_selected(document: DocumentNode, limit: int) -> dict[str, int]:
    """Fields each operation selects with fragments expanded (each fragment counted once); stops past ``limit``."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    memo: dict[str, int] = {}

    def count(selection_set: SelectionSetNode | None) -> int:
        total = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                total += 1 + count(sel.selection_set)
            elif isinstance(sel, InlineFragmentNode):
                total += count(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode):
                total += spread(sel.name.value)
            if total > limit:
                return total
        return total

    def spread(name: str) -> int:
        if name not in memo:
            memo[name] = 0  # a cycle (refused by NoFragmentCyclesRule) counts nothing
            fragment = fragments.get(name)
            memo[name] = count(fragment.selection_set) if fragment else 0
        return memo[name]

    return {
        (d.name.value if d.name else ""): count(d.selection_set)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    }


def too_large(document: DocumentNode, max_fields: int) -> GraphQLError | None:
    """The error (QUERY_TOO_LARGE) of a document one of whose operations selects more than ``max_fields``."""
    for name, fields in fields_selected(document, max_fields).items():
        if fields > max_fields:
            zh = f"查询选择的字段超过 {max_fields} 个（片段展开后）"
            en = f"operation {name or '(anonymous)'} selects more than {max_fields} fields with fragments expanded"
            ext = {"code": "QUERY_TOO_LARGE", "field": None, "messageZh": zh, "messageEn": en}
            return GraphQLError(f"{zh} / {en}", extensions=ext)
    return None


def limits(settings: Settings) -> type[SchemaExtension]:
    """The query limits as one extension class whose rule classes exist once, so validation results are cached
    (per document and rules) across requests."""
    rules: tuple[type[ASTValidationRule], ...] = (
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    )
    max_fields = settings.max_query_fields

    class QueryLimits(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            self.execution_context.validation_rules = (*self.execution_context.validation_rules, *rules)
            yield

        def on_validate(self) -> Iterator[None]:
            ctx = self.execution_context
            assert ctx.graphql_document is not None
            # Keyed by the query's text, not its document: a frozen AST hashes (and compares) node by node.
            key = (id(ctx.schema._schema), max_fields, ctx.query, tuple(ctx.validation_rules))
            errors = _validated.get(key)
            if errors is None:
                # The field count comes first: the depth limiter and the overlap rule walk every expansion.
                error = too_large(ctx.graphql_document, max_fields)
                errors = [error] if error else validate_document(ctx.schema._schema, ctx.graphql_document,
                                                                 ctx.validation_rules)
                _validated[key] = errors
                stats["misses"] += 1
                while len(_validated) > VALIDATED_SIZE:  # distinct texts are bounded by the cache, not the clients
                    _validated.popitem(last=False)
            else:
                _validated.move_to_end(key)
                stats["hits"] += 1
            ctx.pre_execution_errors = list(errors)
            yield

    return QueryLimits


VALIDATED_SIZE = 256
_validated: OrderedDict[tuple, list[GraphQLError]] = OrderedDict()
stats = {"hits": 0, "misses": 0}  # of the validation cache (tests/test_edge_hardening.py)


@functools.lru_cache(maxsize=256)
def _parse(query: str, **options: Any) -> DocumentNode:
    return parse(query, **options)


class ParsedOnce(SchemaExtension):
    """Each query text is parsed once per process (and ``max_tokens``): the document is shared, never changed.
    A text that does not parse is left to strawberry, which parses it again and answers its syntax error."""

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.query is not None:
            with contextlib.suppress(GraphQLError):
                ctx.graphql_document = _parse(ctx.query, **ctx.parse_options)
        yield
