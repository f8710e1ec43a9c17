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


async def test_when_the_last_request_is_answered_every_waiting_piece_goes() -> None:
    """Pieces queued behind the lane during a burst all run together once it ends."""
    pressure = RequestPressure()
    release = asyncio.Event()
    inside = 0
    most = 0

    async def piece() -> None:
        nonlocal inside, most
        async with pressure.background():
            inside += 1
            most = max(most, inside)
            await release.wait()
            inside -= 1

    with pressure.serving():
        tasks = [asyncio.create_task(piece()) for _ in range(4)]
        for _ in range(5):
            await asyncio.sleep(0)
        assert inside == 1  # one at a time while the request is in flight
    for _ in range(5):
        await asyncio.sleep(0)
    assert inside == 4  # the burst is over: the rest did not wait for the first
    release.set()
    await asyncio.gather(*tasks)
    assert most == 4


async def test_a_cancelled_waiting_piece_does_not_hold_up_the_others() -> None:
    """A piece cancelled while waiting for its turn leaves the queue; the next one still runs."""
    pressure = RequestPressure()
    done: list[str] = []
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def piece(name: str, hold: bool) -> None:
        async with pressure.background():
            if hold:
                first_in.set()
                await release.wait()
            done.append(name)

    with pressure.serving():
        first = asyncio.create_task(piece("first", True))
        await first_in.wait()
        doomed = asyncio.create_task(piece("doomed", False))
        last = asyncio.create_task(piece("last", False))
        for _ in range(3):
            await asyncio.sleep(0)
        doomed.cancel()
        release.set()
        await asyncio.gather(first, last)
    assert done == ["first", "last"]
    assert doomed.cancelled()
