"""Slack listeners: thin. Parse the payload into a model, check it, record the command durably
through the workflow service (de-duplicated), ack; anything slow happens after the ack."""
