"""The checks of a definition across its steps, which pydantic cannot do field by field: step
and group ids are unique; a template references only parameters, built-in names and values an
earlier step captures; only a wave group's steps use the wave; every goto (on_success,
on_failure) names a step; every loop (a cycle of the step graph, found with Tarjan's algorithm)
has a step bounding its visits; a skip needs no less authority than completing the step.

Each refusal is a ``DefinitionError`` naming the file and the step.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from workflows.errors import DefinitionError
from workflows.step_models import GroupDef, StepDef

if TYPE_CHECKING:
    from workflows.definition import Definition

__all__ = ["BUILTIN_NAMES", "check_semantics", "template_names"]

_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")

#: Names every step may use in templates without anyone capturing them.
BUILTIN_NAMES = frozenset(
    {"run_id", "workflow", "environment", "initiator", "wave", "now", "plan_hash"}
)


def template_names(value: object) -> set[str]:
    """The root names referenced by ``{{ name }}`` templates anywhere inside ``value``."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(m.group(1).split(".")[0] for m in _TEMPLATE.finditer(value))
    elif isinstance(value, dict):
        for item in value.values():
            found |= template_names(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= template_names(item)
    return found


def check_semantics(defn: Definition, source: str) -> None:
    """Cross-step checks pydantic cannot do field by field."""
    seen: set[str] = set()
    top_ids = {item.id for item in defn.steps if isinstance(item, StepDef)}
    available = {p.name for p in defn.parameters} | set(BUILTIN_NAMES)
    order: list[tuple[str, StepDef, set[str]]] = []  # (qualified id, step, sibling ids)

    for item in defn.steps:
        if isinstance(item, GroupDef):
            if item.group in seen:
                raise DefinitionError(f"{source}: duplicate step or group id {item.group!r}")
            seen.add(item.group)
            inner: set[str] = set()
            for step in item.steps:
                if step.id in inner:
                    raise DefinitionError(
                        f"{source}: step {item.group}.{step.id}: duplicate step id in group"
                    )
                inner.add(step.id)
            order.extend((f"{item.group}.{s.id}", s, inner) for s in item.steps)
        else:
            if item.id in seen:
                raise DefinitionError(f"{source}: step {item.id}: duplicate step id")
            seen.add(item.id)
            order.append((item.id, item, set()))

    for qualified, step, siblings in order:
        used = template_names(step.with_) | template_names(step.title)
        missing = sorted(used - available)
        if missing:
            raise DefinitionError(
                f"{source}: step {qualified}: references {', '.join(missing)}, which no earlier "
                "step captures and which is not a parameter"
            )
        wave_targets = step.targets is not None and step.targets.select.startswith("wave")
        if not siblings and ("wave" in used or wave_targets):
            raise DefinitionError(
                f"{source}: step {qualified}: uses the wave, which only a wave group has"
            )
        available |= set(step.capture)
        for label, target in (("on_success", step.on_success), ("on_failure", step.on_failure)):
            if target in {"next", "block", "abort"}:
                if label == "on_success" and target != "next":
                    raise DefinitionError(
                        f"{source}: step {qualified}: on_success is 'next' or a step id"
                    )
                if label == "on_failure" and target == "next":
                    raise DefinitionError(
                        f"{source}: step {qualified}: on_failure is block, abort or a step id"
                    )
                continue
            if target not in siblings and target not in top_ids:
                raise DefinitionError(
                    f"{source}: step {qualified}: {label} goes to {target!r}, which is not a step"
                )
    _check_loops(order, top_ids, source)
    # Skipping may never need less authority than completing (workflows/policy.py).
    # late: policy imports workflows.definition, which imports this module
    from workflows.policy import check_skip_policy

    for qualified, step, _ in order:
        check_skip_policy(step, qualified, source)


def _check_loops(
    order: list[tuple[str, StepDef, set[str]]], top_ids: set[str], source: str
) -> None:
    """Every cycle of the step graph must contain a step with max_visits (a way out)."""
    index = {qualified: i for i, (qualified, _, _) in enumerate(order)}

    def resolve(qualified: str, target: str, siblings: set[str]) -> int | None:
        if target in siblings:
            return index[f"{qualified.split('.')[0]}.{target}"]
        if target in top_ids:
            return index[target]
        return None

    edges: list[set[int]] = []
    for i, (qualified, step, siblings) in enumerate(order):
        out: set[int] = set()
        if step.on_success == "next":
            if i + 1 < len(order):
                out.add(i + 1)
        else:
            j = resolve(qualified, step.on_success, siblings)
            if j is not None:
                out.add(j)
        if step.on_failure not in {"block", "abort"}:
            j = resolve(qualified, step.on_failure, siblings)
            if j is not None:
                out.add(j)
        edges.append(out)

    for component in _strongly_connected(edges):
        cyclic = len(component) > 1 or any(i in edges[i] for i in component)
        if cyclic and not any(order[i][1].max_visits for i in component):
            names = ", ".join(order[i][0] for i in sorted(component))
            raise DefinitionError(
                f"{source}: steps {names} form a loop with no way out: "
                "give one of them max_visits"
            )


def _strongly_connected(edges: list[set[int]]) -> list[list[int]]:
    """Tarjan's algorithm without recursion (a long definition must not overflow the stack)."""
    counter = 0
    stack: list[int] = []
    on_stack: set[int] = set()
    low: dict[int, int] = {}
    num: dict[int, int] = {}
    result: list[list[int]] = []
    for root in range(len(edges)):
        if root in num:
            continue
        work: list[tuple[int, list[int]]] = [(root, sorted(edges[root]))]
        num[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, pending = work[-1]
            if pending:
                w = pending.pop()
                if w not in num:
                    num[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, sorted(edges[w])))
                elif w in on_stack:
                    low[v] = min(low[v], num[w])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == num[v]:
                component: list[int] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                result.append(component)
    return result
