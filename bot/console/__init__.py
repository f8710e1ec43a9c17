"""The local front end: `parthenon-bot demo` runs the whole bot on loopback with a terminal
console in place of Slack (see docs/demo.md)."""
