"""RequestPressure: work that can wait goes at once when no Slack request is being served, and
one piece at a time while some are."""

from __future__ import annotations

import asyncio

import pytest

from bot.slack.pressure import RequestPressure


async def test_serving_counts_requests_in_flight_even_when_one_fails() -> None:
    """Each request counts from receipt to response, including one that raised."""
    pressure = RequestPressure()
    seen: list[int] = []

    def failing_request() -> None:
        with pressure.serving():
            seen.append(pressure.in_flight)
            raise RuntimeError("boom")

    with pressure.serving():
        seen.append(pressure.in_flight)
        with pytest.raises(RuntimeError):
            failing_request()
        seen.append(pressure.in_flight)
    assert seen == [1, 2, 1]
    assert pressure.in_flight == 0


async def test_background_pieces_run_together_when_nothing_is_served() -> None:
    """With no request in flight, background pieces do not wait for one another."""
    pressure = RequestPressure()
    inside = 0
    most = 0

    async def piece() -> None:
        nonlocal inside, most
        async with pressure.background():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(piece() for _ in range(5)))
    assert most == 5
    assert pressure.waited == 0


async def test_background_pieces_go_one_at_a_time_while_requests_are_served() -> None:
    """While a request is in flight, background pieces take turns, and all of them run."""
    pressure = RequestPressure()
    inside = 0
    most = 0
    done = 0

    async def piece() -> None:
        nonlocal inside, most, done
        async with pressure.background():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.005)
            inside -= 1
            done += 1

    with pressure.serving():
        await asyncio.gather(*(piece() for _ in range(5)))
    assert (most, done, pressure.waited) == (1, 5, 5)


async def test_a_background_piece_lets_ready_requests_go_first() -> None:
    """Entering the background lane yields once, so work already scheduled runs before it."""
    pressure = RequestPressure()
    order: list[str] = []

    async def piece() -> None:
        async with pressure.background():
            order.append("background")

    loop = asyncio.get_running_loop()
    task = loop.create_task(piece())
    loop.call_soon(order.append, "request")
    await task
    assert order == ["request", "background"]
