"""Fan-out: one call per node over many nodes at once, a bounded number in flight, each node's
node error kept as its own result (`NodeResult`) instead of failing the others."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from workflows.nodeerrors import NodeError
from workflows.nodereplies import NodeResult
from workflows.ports import NodeRef

__all__ = ["gather"]

_T = TypeVar("_T")
_N = TypeVar("_N", bound=NodeRef)  # a fan-out only names its nodes


async def gather(
    nodes: Iterable[_N],
    fn: Callable[[_N], Awaitable[_T]],
    *,
    limit: int,
) -> list[NodeResult[_T]]:
    """Run `fn(node)` for every node, at most `limit` at once, results in node order.

    A NodeError becomes that node's result; anything else is a bug and is raised (the
    other calls are cancelled).
    """
    semaphore = asyncio.Semaphore(limit)

    async def one(node: _N) -> NodeResult[_T]:
        async with semaphore:
            try:
                return NodeResult(node.name, value=await fn(node))
            except NodeError as exc:
                return NodeResult(node.name, error=exc)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(node)) for node in nodes]
    except BaseExceptionGroup as grouped:
        raise grouped.exceptions[0] from None
    return [task.result() for task in tasks]
