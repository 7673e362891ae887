"""Every bound the ledger enforces, named once.

A limit that is not written down is a limit discovered in production. Each
constant says what it bounds and why the value was chosen.
"""

from __future__ import annotations

#: Largest amount or balance column, in minor units: PostgreSQL BIGINT and SQLite
#: INTEGER are signed 64-bit. Sums beyond it raise BalanceOverflow, never wrap.
AMOUNT_MINOR_MAX = 2**63 - 1

#: Postings in one transaction. A remittance with FX and fees needs about six;
#: 64 leaves room for fee splits without letting one request lock half the book.
POSTINGS_PER_TRANSACTION_MAX = 64

#: Postings in one transaction, minimum: a single leg cannot balance.
POSTINGS_PER_TRANSACTION_MIN = 2

#: Transactions in one batch call (the issue's bound; one database transaction).
BATCH_TRANSACTIONS_MAX = 1_000

#: Attempts for one unit of work when the database reports a deadlock, a
#: serialization failure or a lost idempotency race. Bounded so a pathological
#: conflict surfaces as an error instead of spinning.
RETRY_ATTEMPTS_MAX = 8

#: First back-off between retries, in seconds; doubles each attempt, with jitter.
RETRY_BACKOFF_SECONDS = 0.002

#: Page size of statements and listings.
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1_000

#: Text bounds.
DESCRIPTION_LENGTH_MAX = 500
ACCOUNT_CODE_LENGTH_MAX = 200
ACCOUNT_NAME_LENGTH_MAX = 200
OWNER_REFERENCE_LENGTH_MAX = 200
IDEMPOTENCY_KEY_LENGTH_MAX = 255
CLIENT_ID_LENGTH_MAX = 64

#: Serialized size of a metadata object, in bytes of compact JSON.
METADATA_BYTES_MAX = 8_192

#: Nesting depth of a metadata object; deeper structures are refused.
METADATA_DEPTH_MAX = 8

#: Transactions sealed per sealing batch (one database transaction each).
SEAL_BATCH_SIZE = 2_000

#: Pending transactions voided per expiry batch.
EXPIRY_BATCH_SIZE = 1_000

#: Principals and keys.
PRINCIPAL_NAME_LENGTH_MAX = 200
SLUG_LENGTH_MAX = 64
KEY_LABEL_LENGTH_MAX = 100

#: Random bytes in an API key's secret (the issue's floor is 32).
API_KEY_SECRET_BYTES = 32

#: Customers: the minimum personal data, bounded.
EXTERNAL_ID_LENGTH_MAX = 100
FULL_NAME_LENGTH_MAX = 200

#: Remittances.
PARTNER_REFERENCE_LENGTH_MAX = 100
RATE_SOURCE_LENGTH_MAX = 32
REASON_LENGTH_MAX = 200

#: Digits after the point of a reference mid-rate (central banks publish four to
#: six; 12 leaves room for inverse rates such as KGS per UZS) and its largest value
#: (1 unit of one currency buys at most a billion of another).
RATE_DECIMALS_MAX = 12
RATE_VALUE_MAX = 10**9

#: Decimal places of an FX margin (a fraction: 0.004 is 0.4%).
MARGIN_DECIMALS_MAX = 6

#: Fee tiers in one schedule.
FEE_TIERS_MAX = 20

#: Rates loaded in one call (a day's rates for every pair and source fit easily).
RATES_PER_LOAD_MAX = 10_000

#: Rows of one bulk remittance file, and rows posted per unit of work while
#: importing it (one journal batch; a failed row is reported, the rest retried).
IMPORT_ROWS_MAX = 1_000_000
IMPORT_CHUNK_ROWS = 1_000

#: Rejected rows listed in a stored import report (the counts are always complete;
#: the CLI writes every rejected row to a file).
IMPORT_REPORT_REJECTIONS_MAX = 1_000

#: Remittance reservations voided per expiry batch.
REMITTANCE_EXPIRY_BATCH_SIZE = 500

#: Days of a settlement statement in one request.
STATEMENT_DAYS_MAX = 366
