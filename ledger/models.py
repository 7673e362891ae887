"""Every table of the service, imported in one place for Alembic and tests."""

from ledger.access.models import ApiKey, IdempotentRequest, Principal
from ledger.credit.models import (
    Contribution,
    CreditScheme,
    Loan,
    LoanAccrual,
    LoanApplication,
    LoanCharge,
    LoanInstallment,
    LoanProduct,
    MatchingRule,
    Repayment,
)
from ledger.events.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from ledger.jobs.models import JobRun
from ledger.journal.models import Account, Posting, Seal, SealHead, SealQueueEntry, Transaction
from ledger.parties.models import Customer, PartnerAccount
from ledger.payments.models import (
    PaymentCollection,
    PayoutItem,
    ProviderEvent,
    ProviderPayout,
    ReconciliationRun,
    SettlementItem,
)
from ledger.portfolio.models import PortfolioSnapshot
from ledger.remittance.models import (
    Corridor,
    CorridorPricing,
    FxRate,
    PartnerLiquidity,
    PlatformFeeAgreement,
    PlatformFeeCharge,
    Quote,
    Remittance,
    RemittanceImport,
)

__all__ = [
    "Account",
    "ApiKey",
    "Contribution",
    "Corridor",
    "CorridorPricing",
    "CreditScheme",
    "Customer",
    "FxRate",
    "IdempotentRequest",
    "JobRun",
    "Loan",
    "LoanAccrual",
    "LoanApplication",
    "LoanCharge",
    "LoanInstallment",
    "LoanProduct",
    "MatchingRule",
    "OutboxEvent",
    "PartnerAccount",
    "PartnerLiquidity",
    "PaymentCollection",
    "PayoutItem",
    "PlatformFeeAgreement",
    "PlatformFeeCharge",
    "PortfolioSnapshot",
    "Posting",
    "Principal",
    "ProviderEvent",
    "ProviderPayout",
    "Quote",
    "ReconciliationRun",
    "Remittance",
    "RemittanceImport",
    "Repayment",
    "Seal",
    "SealHead",
    "SealQueueEntry",
    "SettlementItem",
    "Transaction",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
