"""The ledger's one exception tree.

Every expected failure is a :class:`LedgerError` with a stable machine ``code``
(the API puts it in problem+json bodies; clients switch on it, so codes never
change meaning) and a ``details`` dict of plain JSON values. Unexpected failures
(bugs, a lost database) are not LedgerErrors and must not be caught as such.

    LedgerError
    ├── ValidationFailed            validation_error
    │   ├── InvalidAmount           invalid_amount
    │   │   └── AmountPrecisionError  too_many_decimals
    │   ├── UnknownCurrency         unknown_currency
    │   ├── UnbalancedTransaction   unbalanced_transaction
    │   ├── CurrencyMismatch        currency_mismatch
    │   └── LimitExceeded           limit_exceeded
    ├── NotFound
    │   ├── AccountNotFound         account_not_found
    │   └── TransactionNotFound     transaction_not_found
    ├── Conflict
    │   ├── AccountCodeTaken        account_code_taken
    │   ├── AccountClosed           account_closed
    │   ├── AccountNotEmpty         account_not_empty
    │   ├── TransactionNotPending   transaction_not_pending
    │   ├── PendingExpired          pending_expired
    │   ├── TransactionNotPosted    transaction_not_posted
    │   ├── AlreadyReversed         already_reversed
    │   ├── IdempotencyConflict     idempotency_conflict
    │   └── ConcurrencyExhausted    concurrency_retry_exhausted
    ├── InsufficientFunds           insufficient_funds
    ├── AmountExceedsPending        amount_exceeds_pending
    ├── BalanceOverflow             balance_overflow
    ├── BatchRejected               batch_rejected   (errors by item index)
    │
    │   remittances (ledger.remittance)
    ├── NotFound: CorridorNotFound corridor_not_found, QuoteNotFound quote_not_found,
    │   RemittanceNotFound remittance_not_found, ImportNotFound import_not_found
    ├── Conflict: CorridorExists corridor_exists, FxRateConflict fx_rate_conflict,
    │   QuoteAlreadyUsed quote_already_used, RemittanceExists remittance_exists,
    │   RemittanceNotReserved remittance_not_reserved, LimitBelowUsage limit_below_usage
    ├── ValidationFailed: ReceiveAmountMismatch receive_amount_mismatch
    ├── CorridorNotServed           corridor_not_served
    ├── StaleRate                   stale_rate
    ├── QuoteExpired                quote_expired
    ├── RemittanceExpired           remittance_expired
    ├── LiquidityNotConfigured      liquidity_not_configured
    └── InsufficientFunds: InsufficientLiquidity  insufficient_liquidity
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base of every expected ledger failure."""

    code = "ledger_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class ValidationFailed(LedgerError):
    code = "validation_error"


class InvalidAmount(ValidationFailed):
    code = "invalid_amount"


class AmountPrecisionError(InvalidAmount):
    code = "too_many_decimals"


class UnknownCurrency(ValidationFailed):
    code = "unknown_currency"


class UnbalancedTransaction(ValidationFailed):
    code = "unbalanced_transaction"


class CurrencyMismatch(ValidationFailed):
    code = "currency_mismatch"


class LimitExceeded(ValidationFailed):
    code = "limit_exceeded"


class NotFound(LedgerError):
    code = "not_found"


class AccountNotFound(NotFound):
    code = "account_not_found"


class TransactionNotFound(NotFound):
    code = "transaction_not_found"


class Conflict(LedgerError):
    code = "conflict"


class AccountCodeTaken(Conflict):
    code = "account_code_taken"


class AccountClosed(Conflict):
    code = "account_closed"


class AccountNotEmpty(Conflict):
    code = "account_not_empty"


class TransactionNotPending(Conflict):
    code = "transaction_not_pending"


class TransactionNotPosted(Conflict):
    code = "transaction_not_posted"


class AlreadyReversed(Conflict):
    code = "already_reversed"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class ConcurrencyExhausted(Conflict):
    """The database kept reporting conflicts after every allowed retry."""

    code = "concurrency_retry_exhausted"


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"


class PendingExpired(Conflict):
    """A hold past its ``expires_at`` can only be voided, even before the expiry job ran."""

    code = "pending_expired"


class AmountExceedsPending(LedgerError):
    code = "amount_exceeds_pending"


class BalanceOverflow(LedgerError):
    code = "balance_overflow"


class BatchRejected(LedgerError):
    """A batch was refused as a whole; ``errors`` maps item index to its error."""

    code = "batch_rejected"

    def __init__(self, errors: dict[int, LedgerError]) -> None:
        self.errors = dict(sorted(errors.items()))
        first = next(iter(self.errors))
        super().__init__(
            f"{len(self.errors)} item(s) rejected; first at index {first}: "
            f"{self.errors[first].message}",
            errors=[{"index": index, **error.as_dict()} for index, error in self.errors.items()],
        )


# ------------------------------------------------------------------ remittances


class CorridorNotFound(NotFound):
    code = "corridor_not_found"


class QuoteNotFound(NotFound):
    code = "quote_not_found"


class RemittanceNotFound(NotFound):
    code = "remittance_not_found"


class ImportNotFound(NotFound):
    code = "import_not_found"


class CorridorExists(Conflict):
    code = "corridor_exists"


class FxRateConflict(Conflict):
    """A mid-rate for that day, pair and source exists with another value. Quotes
    were priced on it, so it is never overwritten."""

    code = "fx_rate_conflict"


class QuoteAlreadyUsed(Conflict):
    code = "quote_already_used"


class RemittanceExists(Conflict):
    """The partner reference is taken by a remittance with other content."""

    code = "remittance_exists"


class RemittanceNotReserved(Conflict):
    code = "remittance_not_reserved"


class LimitBelowUsage(Conflict):
    """An overdraft limit (a net debit cap) lower than what is already drawn."""

    code = "limit_below_usage"


class ReceiveAmountMismatch(ValidationFailed):
    code = "receive_amount_mismatch"


class CorridorNotServed(LedgerError):
    """The partner has no price on the corridor."""

    code = "corridor_not_served"


class StaleRate(LedgerError):
    """No reference mid-rate recent enough: a quote never uses a stale one silently."""

    code = "stale_rate"


class QuoteExpired(LedgerError):
    code = "quote_expired"


class RemittanceExpired(LedgerError):
    code = "remittance_expired"


class LiquidityNotConfigured(LedgerError):
    """The partner has no settlement account in the currency."""

    code = "liquidity_not_configured"


class InsufficientLiquidity(InsufficientFunds):
    """The partner's available liquidity plus its net debit cap does not cover it."""

    code = "insufficient_liquidity"
