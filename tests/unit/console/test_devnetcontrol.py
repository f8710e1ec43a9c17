"""How `/devnet <node> <fault> <value>` reads the value it is given."""

from __future__ import annotations

import pytest

from bot.console.devnetcontrol import fault_value
from bot.devnet import NodeFaults


@pytest.mark.parametrize(
    ("knob", "raw", "value"),
    [
        ("validation_errors", "on", True),
        ("validation_errors", "OFF", False),
        ("stalled_tip", "120", 120),
        ("peers", "on", 0),
        ("peers", "3", 3),
        ("peers", "off", None),
        ("latency", "on", 1.0),
        ("latency", "0.25", 0.25),
        ("wrong_network", "mainnet", "mainnet"),
        ("http_5xx", "502", 502),
    ],
)
def test_words_and_numbers_become_what_the_knob_takes(knob: str, raw: str, value: object) -> None:
    """on/off mean the knob's switch or default; numbers and network names pass as such, and
    the node's own validation accepts them."""
    assert fault_value(knob, raw) == value
    NodeFaults().update({knob: fault_value(knob, raw)})
