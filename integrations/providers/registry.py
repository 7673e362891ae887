"""The payment providers this service knows, by name (see ``base`` for the interface)."""

from __future__ import annotations

import stripe

from integrations.providers.bank_transfer import BankTransferProvider
from integrations.providers.base import PaymentProvider
from integrations.stripe.provider import StripeProvider
from ledger.config import Settings
from ledger.payments.errors import ProviderUnavailable


def build_providers(
    settings: Settings, *, stripe_http_client: stripe.HTTPClient | None = None
) -> dict[str, PaymentProvider]:
    """Every provider; Stripe's ``available()`` is False without keys.
    ``stripe_http_client``: the SDK's transport (tests give a local one)."""
    return {
        "stripe": StripeProvider(settings, http_client=stripe_http_client),
        "bank_transfer": BankTransferProvider(),
    }


def provider_named(providers: dict[str, PaymentProvider], name: str) -> PaymentProvider:
    found = providers.get(name)
    if found is None:
        raise ProviderUnavailable(
            f"no provider {name!r}; known: {', '.join(sorted(providers))}", provider=name
        )
    return found
