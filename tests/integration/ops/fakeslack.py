"""A fake of Slack's Web API `auth.test` on port 0: answers ok for one token, records calls."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["FakeSlack"]


@dataclass
class FakeSlack:
    """`url` (after `start`) is the SLACK_API_URL to give the bot: http://127.0.0.1:<port>/api/."""

    token: str
    calls: list[str] = field(default_factory=list)
    down: bool = False  # answer 503 to everything
    _runner: web.AppRunner | None = None
    url: str = ""

    async def _auth_test(self, request: web.Request) -> web.Response:
        self.calls.append("auth.test")
        if self.down:
            return web.Response(status=503, text="unavailable")
        sent = request.headers.get("Authorization", "")
        if sent != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response({"ok": True, "team": "T", "user": "bot", "bot_id": "B1"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/auth.test", self._auth_test)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/api/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
