"""Outbound webhooks: owners register URLs, domain apps ``emit`` events, deliveries are
signed, retried for a day, replayable, and endpoints failing for long are disabled."""
