"""The Slack edge: ids, payload models, escaping, renderers, the notifier, a stand-in Web API."""
