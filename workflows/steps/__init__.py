"""parthenon-bot."""
