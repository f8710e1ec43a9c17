"""Every button (``ActionId``) and every modal (``CallbackId``) has exactly one listener of its
own. Bolt calls a listener only for the id it was registered with (and the events route lets
through only block_actions and view_submission), so there is no "unknown button" to refuse; a
new id without a listener would be a button that does nothing, which this catches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from bot.slack.ids import ActionId, CallbackId
from handlers import actions, modals


class _App:
    """Records what a ``register`` asks Bolt for: (kind, id) -> the listeners given."""

    def __init__(self) -> None:
        self.registered: list[tuple[str, str, Any]] = []

    def action(self, constraint: Any) -> Callable[[Any], Any]:
        return lambda listener: self.registered.append(("action", constraint, listener))

    def view(self, constraint: Any) -> Callable[[Any], Any]:
        return lambda listener: self.registered.append(("view", constraint, listener))


class _Context:
    def bind(self, listener: Any) -> Any:
        return listener


def _registered(register: Callable[[Any, Any], None]) -> list[tuple[str, str, Any]]:
    app = _App()
    register(app, _Context())
    return app.registered


def test_each_button_has_one_listener_of_its_own() -> None:
    found = _registered(actions.register)
    assert {kind for kind, _, _ in found} == {"action"}
    ids = Counter(constraint for _, constraint, _ in found)
    assert all(isinstance(constraint, str) for constraint in ids)  # an exact action_id match
    assert set(ids) == set(ActionId)
    assert set(ids.values()) == {1}
    assert len({listener for _, _, listener in found}) == len(ActionId)


def test_each_modal_has_one_listener_of_its_own() -> None:
    found = _registered(modals.register)
    assert {kind for kind, _, _ in found} == {"view"}
    ids = Counter(constraint for _, constraint, _ in found)
    assert all(isinstance(constraint, str) for constraint in ids)  # an exact callback_id match
    assert set(ids) == set(CallbackId)
    assert set(ids.values()) == {1}
    assert len({listener for _, _, listener in found}) == len(CallbackId)
