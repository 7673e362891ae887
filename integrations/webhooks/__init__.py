"""Outbound webhooks: signing (``signing``) and delivery from the outbox (``delivery``)."""
