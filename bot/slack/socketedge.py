"""Socket Mode with the events route's shape check: an envelope whose payload bolt could not
read (``bot.slack.envelope.check_socket_payload``) is acked empty and logged as one debug line,
never handed to bolt to raise inside the framework. Slack acks are what it waits for; an
envelope it sent wrongly is not sent again because of a missing ack."""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack.envelope import check_socket_payload

__all__ = ["CheckedSocketModeHandler"]

log = logging.getLogger("parthenon.socket")


class CheckedSocketModeHandler(AsyncSocketModeHandler):
    async def handle(  # type: ignore[override]  # as bolt declares it
        self, client: SocketModeClient, req: SocketModeRequest
    ) -> None:
        problem = check_socket_payload(req.type, req.payload)
        if problem is not None:
            log.debug("refused a Socket Mode envelope: %s", problem)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        await super().handle(client, req)
