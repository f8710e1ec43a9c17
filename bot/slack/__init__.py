"""The Slack edge: ids, payload models, escaping, renderers, the notifier (the Slack stand-in
the demo and tests use is in ``bot.testing``)."""
