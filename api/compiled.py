"""A hot list's page completed in one pass, without graphql-core's per-field execution.

A list whose links were read with its page (``tenants.paging.page_with``) holds only plain values: every field of
its nodes is an attribute or a synchronous resolver. Strawberry still runs each field through its resolver
wrappers, argument parsing, the schema extensions' ``resolve`` hooks and graphql-core's completion, several times
the work of reading the value (20,000 fields for 100 settlement statements of 20 lines).
``compiled(info, value)`` completes the field's value the way graphql-core would — the same field collection
(fragments, aliases, ``@skip``/``@include``), the same resolvers called on the same objects, the same scalar and
enum serialisation — and hands graphql-core the finished answer (``Compiled``, taken as it is by
``api.execution.SettledExecution``). Anything it does not do the same way makes it give up and return the value
unchanged, to the general path: a field with arguments, a resolver's error or a null in a non-null field (the
general path reports them), a directive other than ``@skip``/``@include``. Awaitables (links not read with the
page) are awaited a level at a time.
``tests/test_hot_lists.py`` compares the two paths byte for byte, every field selected.
"""

from __future__ import annotations

import inspect
from asyncio import gather
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from operator import attrgetter
from typing import Any

from graphql import (
    BooleanValueNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    Undefined,
    VariableNode,
)
from strawberry import relay

from api.context import Info

_KNOWN_DIRECTIVES = {"skip", "include"}
_TAKES_INFO: dict[Any, bool] = {}


# Values that are never awaitable (most of a page): the check is skipped for them.
_PLAIN = frozenset({str, int, float, bool, Decimal, datetime, date, dict, list, type(None)})
_AWAITABLE: dict[type, bool] = {}


def _awaitable(value: Any) -> bool:
    kind = type(value)
    found = _AWAITABLE.get(kind)
    if found is None:
        found = inspect.isawaitable(value)
        if not inspect.isgenerator(value):  # a generator-based coroutine is told by its flags, not its type
            _AWAITABLE[kind] = found
    return found


def _with_info(func: Callable[..., Any], info: Info, source: Any) -> Any:
    return func(source, info)


class Compiled:
    """A field's finished response value (graphql-core completes it as it is)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class _GiveUp(Exception):
    """This value is not completed here the way the general path would: the general path completes it."""


async def compiled(info: Info, value: Any) -> Any:
    """``value`` (the field's resolved value) completed in one pass, or ``value`` itself for the general path.
    Links not read with the page (awaitables: a DataLoader's) are awaited a level at a time, all of a level
    together, so their loaders batch as they do on the general path."""
    raw = info._raw_info
    run = _Completion(raw.schema, raw.fragments, raw.variable_values, info)
    answer: list[Any] = [None]
    try:
        run.fill(answer, 0, raw.return_type, raw.field_nodes, value)
        while run.pending:
            level, run.pending = run.pending, []
            results = await gather(*(p[0] for p in level), return_exceptions=True)
            for (_, into, key, kind, nodes), result in zip(level, results, strict=True):
                if isinstance(result, BaseException):
                    raise _GiveUp  # the general path reports the error where it happened
                run.fill(into, key, kind, nodes, result)
    except Exception:  # _GiveUp, or a resolver's error: the general path reports it where it happened
        for awaitable, *_ in run.pending:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
        return value
    return Compiled(answer[0])


class _Completion:
    def __init__(self, schema: GraphQLSchema, fragments: dict, variables: dict, info: Info) -> None:
        self.schema, self.fragments, self.variables, self.info = schema, fragments, variables, info
        self.collected: dict[tuple[str, tuple[int, ...]], dict[str, list[FieldNode]]] = {}
        self.plans: dict[tuple[str, tuple[int, ...]], list[tuple[str, Any, Any, list]]] = {}
        self.objects: dict[tuple[int, str, int], tuple[Any, dict[str, Any]]] = {}
        # Awaitables met on this level, each with where its completed value goes: (awaitable, into, key, kind,
        # nodes).
        self.pending: list[tuple[Any, Any, Any, GraphQLOutputType, Sequence[FieldNode]]] = []

    def fill(self, into: Any, key: Any, kind: GraphQLOutputType, nodes: Sequence[FieldNode], value: Any) -> None:
        """Complete ``value`` as ``kind`` into ``into[key]`` (later, for an awaitable)."""
        if type(value) not in _PLAIN and _awaitable(value):
            into[key] = None  # its place, in the order of the selection
            self.pending.append((value, into, key, kind, nodes))
            return
        inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
        if value is None:
            if inner is not kind:
                raise _GiveUp  # the general path reports a null in a non-null field
            into[key] = None
            return
        if isinstance(inner, GraphQLLeafType):
            leaf = inner.serialize(value)
            if leaf is Undefined or leaf is None:
                raise _GiveUp
            into[key] = leaf
            return
        if isinstance(inner, GraphQLList):
            items = list(value)
            done: list[Any] = [None] * len(items)
            into[key] = done
            for i, item in enumerate(items):
                self.fill(done, i, inner.of_type, nodes, item)
            return
        if isinstance(inner, GraphQLAbstractType):
            definition = getattr(type(value), "__strawberry_definition__", None)
            concrete = self.schema.get_type(definition.name) if definition is not None else None
            if not isinstance(concrete, GraphQLObjectType) or not self.schema.is_sub_type(inner, concrete):
                raise _GiveUp
            inner = concrete
        if not isinstance(inner, GraphQLObjectType):
            raise _GiveUp
        # The same object met again with the same selection (a compound on many settlement lines) is the same
        # answer: completed once. ``nodes`` lives as long as this completion (the plans hold it).
        seen = (id(value), inner.name, id(nodes))
        if (done_before := self.objects.get(seen)) is not None and done_before[0] is value:
            into[key] = done_before[1]
            return
        out: dict[str, Any] = {}
        into[key] = out
        self.objects[seen] = (value, out)
        for name_key, field_type, get, field_nodes in self._plan(inner, nodes):
            if get is None:
                out[name_key] = inner.name  # __typename
            else:
                self.fill(out, name_key, field_type, field_nodes, get(value))

    def _plan(self, kind: GraphQLObjectType, nodes: Sequence[FieldNode]) -> list[tuple[str, Any, Any, list]]:
        """(response key, field type, how to read the value from a source, field nodes) of each subfield."""
        key = (kind.name, tuple(id(n) for n in nodes))
        plan = self.plans.get(key)
        if plan is None:
            plan = []
            for name_key, field_nodes in self._fields(kind, nodes).items():
                name = field_nodes[0].name.value
                if name == "__typename":
                    plan.append((name_key, None, None, field_nodes))
                    continue
                field = kind.fields.get(name)
                strawberry_field = field.extensions.get("strawberry-definition") if field is not None else None
                if field is None or field.args or strawberry_field is None:
                    raise _GiveUp
                plan.append((name_key, field.type, self._getter(strawberry_field, kind), field_nodes))
            self.plans[key] = plan
        return plan

    def _getter(self, field: Any, kind: GraphQLObjectType) -> Callable[[Any], Any]:
        """How a field's value is read from its source: the attribute, or the resolver called as strawberry calls
        it (``self``, and ``info`` when it asks for it)."""
        resolver = field.base_resolver
        if resolver is None:
            return attrgetter(field.python_name)
        info = self.info
        if field.python_name == "_id":  # relay's id: the type's global id

            def global_id(source: Any) -> Any:
                if not isinstance(source, relay.Node):
                    raise _GiveUp
                node_id = type(source).resolve_id(source, info=info)
                if inspect.isawaitable(node_id):
                    raise _GiveUp
                return relay.GlobalID(type_name=kind.name, node_id=str(node_id))

            return global_id
        func = resolver.wrapped_func
        takes_info = _TAKES_INFO.get(func)
        if takes_info is None:
            params = list(inspect.signature(func).parameters)
            if params[:1] != ["self"] or any(p not in ("self", "info") for p in params):
                raise _GiveUp
            takes_info = _TAKES_INFO[func] = "info" in params
        return partial(_with_info, func, info) if takes_info else func

    def _fields(self, kind: GraphQLObjectType, nodes: Sequence[FieldNode]) -> dict[str, list[FieldNode]]:
        """The subfields of ``nodes`` on ``kind`` by response key, in order (graphql-core's collectSubfields)."""
        key = (kind.name, tuple(id(n) for n in nodes))
        found = self.collected.get(key)
        if found is None:
            found = {}
            for node in nodes:
                if node.selection_set is not None:
                    self._collect(kind, node.selection_set, found, set())
            self.collected[key] = found
        return found

    def _collect(
        self, kind: GraphQLObjectType, selections: SelectionSetNode, found: dict[str, list[FieldNode]], seen: set
    ) -> None:
        for selection in selections.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                found.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._matches(selection.type_condition, kind):
                    self._collect(kind, selection.selection_set, found, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in seen or fragment is None:
                    continue
                seen.add(name)
                if self._matches(fragment.type_condition, kind):
                    self._collect(kind, fragment.selection_set, found, seen)

    def _included(self, node: Any) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name not in _KNOWN_DIRECTIVES:
                raise _GiveUp  # @defer, @stream ...: the general path's business
            arguments = {a.name.value: a.value for a in directive.arguments}
            condition = arguments.get("if")
            if isinstance(condition, VariableNode):
                value = self.variables.get(condition.name.value)
            elif isinstance(condition, BooleanValueNode):
                value = condition.value
            else:
                raise _GiveUp
            if not isinstance(value, bool):
                raise _GiveUp
            if (name == "skip") == value:
                return False
        return True

    def _matches(self, condition: Any, kind: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        wanted = self.schema.get_type(condition.name.value)
        if wanted is kind:
            return True
        return isinstance(wanted, GraphQLAbstractType) and self.schema.is_sub_type(wanted, kind)
