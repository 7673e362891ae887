"""Events the service announces, written to an outbox in the same database transaction
as the change they announce (``ledger.events.outbox``), and the principals' webhook
endpoints that hear them (``ledger.events.endpoints``). Sending is
``integrations.webhooks``'."""
