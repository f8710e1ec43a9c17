"""Stand-ins the demo, the tests and the benchmarks share; nothing the running bot imports.

- ``bot.testing.standin``: Slack's Web API and Socket Mode, served on loopback, keeping every
  message, view and channel (``SlackStandIn``); what it keeps is ``bot.testing.slackworkspace``,
  the methods it answers ``bot.testing.slackmethods``;
- ``bot.testing.redisserver``: a ``redis-server`` of its own on a free loopback port, with its own
  data directory (``RedisServer``);
- ``bot.testing.signing``: a request body signed as Slack signs it (``sign``).
"""
