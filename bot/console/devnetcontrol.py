"""The console's ``/devnet`` command: look at the simulated nodes and switch their faults.

The nodes are the one thing outside the bot, so this acts on them directly (their fault knobs
and processes, ``bot.devnet``), never on the bot: the bot finds out the way it would find out
about a real node.
"""

from __future__ import annotations

from bot.console.errors import ConsoleError
from bot.console.screen import Screen
from bot.console.stack import DemoStack
from bot.devnet import DevnetError, DevnetNode, NodeFaults

__all__ = ["devnet_command", "fault_value"]

_TRUE = {"on", "true", "yes"}
_FALSE = {"off", "false", "no", "none"}
#: what "on" means for knobs that are not plain switches
_ON_VALUES: dict[str, object] = {"latency": 1.0, "peers": 0}
_NODE_ACTIONS = {"stop", "start", "restart", "reset"}


async def devnet_command(stack: DemoStack, screen: Screen, args: list[str]) -> None:
    """``/devnet``, ``/devnet <node>``, ``/devnet <node> stop|start|restart|reset``,
    ``/devnet <node> <fault> on|off|<value>``."""
    if not args:
        _table(stack, screen)
        return
    node = stack.node(args[0])
    if node is None:
        names = [n.name for d in stack.devnets.values() for n in d.nodes]
        raise ConsoleError(f"no node {args[0]!r}; nodes: {', '.join(names)}")
    if len(args) == 1:
        _table(stack, screen, [node])
        return
    action = args[1].lower()
    if len(args) == 2 and action in _NODE_ACTIONS:
        await _node_action(screen, node, action)
        return
    if len(args) != 3:
        raise ConsoleError("give /devnet <node> <fault> on|off|<value>, or "
                           "/devnet <node> stop|start|restart|reset")
    knob = args[1]
    if knob not in NodeFaults.knob_names():
        raise ConsoleError(f"no fault {knob!r}; one of {', '.join(NodeFaults.knob_names())}")
    value = fault_value(knob, args[2])
    try:
        node.faults.update({knob: value})
    except DevnetError as exc:
        raise ConsoleError(str(exc)) from None
    state = "off" if value == _default_of(knob) else f"on ({value!r})"
    screen.note(f"🔧 {node.name}: {knob} {state}")


def fault_value(knob: str, raw: str) -> object:
    """``on``/``off`` or a number or a word, as the knob takes it (the node validates)."""
    word = raw.lower()
    if word in _FALSE:
        return _default_of(knob)
    if word in _TRUE:
        return _ON_VALUES.get(knob, True)
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def _default_of(knob: str) -> object:
    return getattr(NodeFaults(), knob)


async def _node_action(screen: Screen, node: DevnetNode, action: str) -> None:
    if action == "reset":
        node.faults.reset()
        screen.note(f"🔧 {node.name}: every fault off")
        return
    if action in {"stop", "restart"}:
        await node.stop_process()
    if action in {"start", "restart"}:
        await node.start_process()
    done = {"stop": "stopped", "start": "started", "restart": "restarted"}[action]
    screen.note(f"🔧 {node.name}: {done}")


def _table(stack: DemoStack, screen: Screen, nodes: list[DevnetNode] | None = None) -> None:
    rows = [f"{'node':<9} {'network':<8} {'role':<10} {'canary':<6} {'up':<3} "
            f"{'version':<8} {'height':>6}  faults"]
    for devnet in stack.devnets.values():
        for node in devnet.nodes:
            if nodes is not None and node not in nodes:
                continue
            faults = {k: v for k, v in node.faults.to_dict().items() if v != _default_of(k)}
            on = ", ".join(f"{k}={v}" for k, v in faults.items()) or "-"
            canary, up = "yes" if node.canary else "", "yes" if node.running else "NO"
            rows.append(f"{node.name:<9} {devnet.network:<8} {node.role:<10} {canary:<6} "
                        f"{up:<3} {node.version:<8} {node.height:>6}  {on}")
    screen.write(rows)
