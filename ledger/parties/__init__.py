"""A partner's book of business: its customers and the accounts it owns.

Every read and write here is scoped to one partner. Another partner's customer
or account is reported exactly like a missing one (``*_not_found``), so ids
reveal nothing across partners.
"""

from ledger.parties.accounts import (
    PartnerAccountSpec,
    get_owned_account,
    list_owned_accounts,
    open_partner_account,
    require_owned_accounts,
)
from ledger.parties.customers import (
    CUSTOMER_KINDS,
    CustomerRecord,
    create_customer,
    get_customer,
    list_customers,
)

__all__ = [
    "CUSTOMER_KINDS",
    "CustomerRecord",
    "PartnerAccountSpec",
    "create_customer",
    "get_customer",
    "get_owned_account",
    "list_customers",
    "list_owned_accounts",
    "open_partner_account",
    "require_owned_accounts",
]
