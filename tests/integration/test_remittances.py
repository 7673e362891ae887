"""Remittances on both databases: quotes, reservation, completion, failure, expiry,
liquidity and its cap, idempotency by reference, and every refusal writing nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from ledger.errors import (
    CorridorNotFound,
    CorridorNotServed,
    CurrencyMismatch,
    InsufficientLiquidity,
    LiquidityNotConfigured,
    QuoteAlreadyUsed,
    QuoteExpired,
    ReceiveAmountMismatch,
    RemittanceExists,
    RemittanceExpired,
    RemittanceNotReserved,
    StaleRate,
    ValidationFailed,
)
from ledger.journal import ensure_position_account, get_transaction
from ledger.parties.customers import CustomerNotFound
from ledger.remittance.quotes import create_quote
from ledger.remittance.remittances import (
    expire_remittances,
    fail_remittance,
    get_remittance,
    reserve_remittance,
)
from tests.remittance_support import POLICY, TJ, UZ, World, build_world, complete, reserve
from tests.support import row_counts


@pytest.fixture
def world(database, clock) -> World:
    return build_world(database, clock)


def quote(world: World, send: int | None = None, receive: int | None = None, code: str = TJ):
    return world.run(
        lambda c: create_quote(
            c,
            world.partner.id,
            code,
            send=(send, "RUB") if send is not None else None,
            receive=(receive, "TJS") if receive is not None else None,
            now=world.clock.now(),
            policy=POLICY,
        )
    )


def positions(world: World) -> tuple[int, int]:
    def read(c):
        now = world.clock.now()
        return ensure_position_account(c, "RUB", now=now), ensure_position_account(
            c, "TJS", now=now
        )

    return world.run(read)


# --------------------------------------------------------------------- quotes


def test_a_send_quote_is_priced_as_by_hand(world):
    # 10,000.00 RUB: fee 1.5% = 150.00 RUB (above the 50.00 minimum); applied rate
    # 0.1192 x (1 - 0.004) = 0.1187232; receive 1,187.232 rounded down = 1,187.23 TJS;
    # total cost 150.00 + 10,000 x 0.004 = 190.00 RUB = 1.90%.
    q = quote(world, send=1_000_000)
    assert (q.send_minor, q.fee_minor, q.receive_minor) == (1_000_000, 15_000, 118_723)
    assert q.applied_rate == Decimal("0.1187232")
    assert q.mid_rate == Decimal("0.1192")
    assert q.total_cost == Decimal("190.000000000000")
    assert q.total_cost_percent == Decimal("1.90")
    assert q.expires_at == world.clock.now() + POLICY.quote_ttl
    assert q.rate_date == world.clock.now().date()


def test_a_small_send_pays_the_minimum_fee(world):
    # 1,000.00 RUB: 1.5% would be 15.00, the minimum is 50.00; margin 4.00: 5.40%.
    q = quote(world, send=100_000)
    assert q.fee_minor == 5_000
    assert q.total_cost_percent == Decimal("5.40")


def test_a_receive_quote_finds_the_smallest_send_that_delivers_it(world):
    # 1,187.23 / 0.1187232 = 9,999.983...: 9,999.99 RUB delivers 1,187.2308 -> 1,187.23;
    # one kopek less delivers 1,187.2296 -> 1,187.22.
    q = quote(world, receive=118_723)
    assert (q.send_minor, q.receive_minor) == (999_999, 118_723)
    assert quote(world, send=999_998).receive_minor == 118_722


def test_a_quote_refuses_a_stale_rate_and_writes_nothing(world):
    world.clock.advance(timedelta(days=POLICY.rate_max_age_days + 1))
    counts = row_counts(world.database)
    with pytest.raises(StaleRate) as refused:
        quote(world, send=1_000_000)
    assert refused.value.details["newest_rate_date"] is not None
    assert row_counts(world.database) == counts


def test_a_quote_on_a_corridor_the_partner_does_not_serve_is_refused(world):
    with pytest.raises(CorridorNotServed):
        quote(world, send=1_000_000, code=UZ)
    with pytest.raises(CorridorNotFound):
        quote(world, send=1_000_000, code="RU-RUB-AM-AMD")


def test_a_quote_in_the_wrong_currency_is_refused(world):
    with pytest.raises(CurrencyMismatch):
        world.run(
            lambda c: create_quote(
                c, world.partner.id, TJ, send=(100, "USD"), now=world.clock.now(), policy=POLICY
            )
        )


# ---------------------------------------------------------------- the lifecycle


def test_a_reservation_holds_liquidity_and_credits_nothing_yet(world):
    q = quote(world, send=1_000_000)
    remittance = reserve(world, world.request(quote_id=q.id))
    assert remittance.status == "reserved"
    assert remittance.expires_at == world.clock.now() + POLICY.reservation_ttl
    # Settlement: posted 1,000,000.00; 10,150.00 reserved.
    assert world.balances(world.settlement_id) == (100_000_000, -1_015_000, 98_985_000)
    # The beneficiary's credit is pending, not available.
    assert world.balances(remittance.beneficiary_account_id) == (0, 118_723, 0)
    hold = world.run(lambda c: get_transaction(c, remittance.transaction_id))
    assert hold.status == "pending"
    assert hold.metadata["remittance"]["id"] == str(remittance.id)


def test_completion_posts_the_remittance_through_the_fx_positions(world):
    q = quote(world, send=1_000_000)
    remittance = reserve(world, world.request(quote_id=q.id))
    done = complete(world, remittance.id)
    assert done.status == "completed" and done.resolved_at == world.clock.now()
    assert world.balances(world.settlement_id) == (98_985_000, 0, 98_985_000)
    assert world.balances(world.fee_account_id) == (15_000, 0, 15_000)
    assert world.balances(remittance.beneficiary_account_id) == (118_723, 0, 118_723)
    rub_position, tjs_position = positions(world)
    # Position accounts are assets: RUB came in (credited), TJS went out (debited).
    assert world.balances(rub_position)[0] == -1_000_000
    assert world.balances(tjs_position)[0] == 118_723
    assert world.run(lambda c: get_transaction(c, remittance.transaction_id)).status == "posted"
    stored = world.run(lambda c: get_remittance(c, world.partner.id, remittance.id))
    assert stored == done


def test_failure_voids_the_reservation(world):
    remittance = reserve(world, world.explicit())
    failed = world.run(
        lambda c: fail_remittance(
            c, world.partner.id, remittance.id, reason="payout refused", now=world.clock.now()
        )
    )
    assert (failed.status, failed.failure_reason) == ("failed", "payout refused")
    assert world.balances(world.settlement_id) == (100_000_000, 0, 100_000_000)
    assert world.balances(remittance.beneficiary_account_id) == (0, 0, 0)
    with pytest.raises(RemittanceNotReserved):
        complete(world, remittance.id)


def test_a_stale_reservation_expires_and_can_no_longer_complete(world):
    remittance = reserve(world, world.explicit())
    world.clock.advance(POLICY.reservation_ttl)
    with pytest.raises(RemittanceExpired):
        complete(world, remittance.id)
    expired = world.run(lambda c: expire_remittances(c, now=world.clock.now()))
    assert expired == [remittance.id]
    assert world.run(lambda c: expire_remittances(c, now=world.clock.now())) == []
    stored = world.run(lambda c: get_remittance(c, None, remittance.id))
    assert stored.status == "expired"
    assert world.balances(world.settlement_id) == (100_000_000, 0, 100_000_000)
    with pytest.raises(RemittanceNotReserved):
        complete(world, remittance.id)


def test_expiry_leaves_live_reservations_alone(world):
    early = reserve(world, world.explicit("early"))
    world.clock.advance(timedelta(hours=1))
    late = reserve(world, world.explicit("late"))
    world.clock.advance(POLICY.reservation_ttl - timedelta(minutes=30))
    assert world.run(lambda c: expire_remittances(c, now=world.clock.now())) == [early.id]
    assert complete(world, late.id).status == "completed"


# --------------------------------------------------------------- quotes in use


def test_an_expired_quote_is_refused_and_nothing_is_written(world):
    q = quote(world, send=1_000_000)
    world.clock.advance(POLICY.quote_ttl)
    counts = row_counts(world.database)
    with pytest.raises(QuoteExpired):
        reserve(world, world.request(quote_id=q.id))
    assert row_counts(world.database) == counts


def test_a_quote_serves_one_remittance(world):
    q = quote(world, send=1_000_000)
    reserve(world, world.request("first", quote_id=q.id))
    with pytest.raises(QuoteAlreadyUsed):
        reserve(world, world.request("second", quote_id=q.id))


def test_another_partners_quote_is_not_found(world):
    from ledger.errors import QuoteNotFound

    q = quote(world, send=1_000_000)
    with pytest.raises(QuoteNotFound):
        world.run(
            lambda c: reserve_remittance(
                c,
                world.other,
                world.request(quote_id=q.id, beneficiary_customer_id=world.others_customer.id),
                now=world.clock.now(),
                policy=POLICY,
            )
        )


# ---------------------------------------------------------- explicit pricing


def test_an_explicitly_priced_remittance_uses_the_days_mid_rate_for_its_cost(world):
    remittance = reserve(world, world.explicit(receive=(118_723, "TJS")))
    assert (remittance.send_minor, remittance.fee_minor, remittance.receive_minor) == (
        1_000_000,
        15_000,
        118_723,
    )
    assert remittance.mid_rate == Decimal("0.1192")
    assert remittance.total_cost_percent == Decimal("1.90")
    assert remittance.quote_id is None


def test_a_receive_amount_that_does_not_follow_from_the_rate_is_refused(world):
    with pytest.raises(ReceiveAmountMismatch):
        reserve(world, world.explicit(receive=(118_724, "TJS")))


def test_explicit_pricing_needs_a_fresh_mid_rate(world):
    world.clock.advance(timedelta(days=10))
    with pytest.raises(StaleRate):
        reserve(world, world.explicit())


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"send": (1_000_000, "USD")}, CurrencyMismatch),
        ({"fee": (100, "TJS")}, CurrencyMismatch),
        ({"send": (0, "RUB")}, ValidationFailed),
        ({"send": (-5, "RUB")}, ValidationFailed),
        ({"fee": (-1, "RUB")}, ValidationFailed),
        ({"corridor_code": "RU-RUB-XX-TJS"}, CorridorNotFound),
        ({"sender_country": "XX"}, ValidationFailed),
        ({"sender_name": " "}, ValidationFailed),
        ({"partner_reference": "has space"}, ValidationFailed),
        ({"applied_rate": None}, ValidationFailed),
    ],
)
def test_bad_requests_are_refused_and_write_nothing(world, changes, error):
    counts = row_counts(world.database)
    with pytest.raises(error):
        reserve(world, world.explicit(**changes))
    assert row_counts(world.database) == counts


def test_a_beneficiary_of_another_partner_is_not_found(world):
    counts = row_counts(world.database)
    with pytest.raises(CustomerNotFound):
        reserve(world, world.explicit(beneficiary_customer_id=world.others_customer.id))
    assert row_counts(world.database) == counts


def test_a_beneficiary_account_in_another_currency_is_refused(world):
    from ledger.parties import PartnerAccountSpec, open_partner_account

    rub = world.run(
        lambda c: open_partner_account(
            c,
            world.partner,
            PartnerAccountSpec("RUB wallet", "liability", "RUB", customer_id=world.beneficiary.id),
            now=world.clock.now(),
        )
    )
    with pytest.raises(CurrencyMismatch):
        reserve(world, world.explicit(beneficiary_account_id=rub.account.id))


def test_a_partner_without_liquidity_in_the_currency_is_refused(world):
    from ledger.remittance.corridors import set_pricing
    from tests.remittance_support import RUB_FEES

    world.run(
        lambda c: set_pricing(
            c,
            world.other.id,
            TJ,
            fees=RUB_FEES,
            fx_margin=Decimal("0.004"),
            rate_source="cbr",
            now=world.clock.now(),
        )
    )
    with pytest.raises(LiquidityNotConfigured):
        world.run(
            lambda c: reserve_remittance(
                c,
                world.other,
                world.explicit(beneficiary_customer_id=world.others_customer.id),
                now=world.clock.now(),
                policy=POLICY,
            )
        )


# ------------------------------------------------------------- idempotency


def test_the_same_reference_and_content_returns_the_same_remittance(world):
    first = reserve(world, world.explicit())
    counts = row_counts(world.database)
    again = reserve(world, world.explicit())
    assert again == first and again.replayed
    assert row_counts(world.database) == counts


def test_the_same_reference_with_other_content_is_refused(world):
    reserve(world, world.explicit())
    with pytest.raises(RemittanceExists) as refused:
        reserve(world, world.explicit(amount="20000.00"))
    assert refused.value.details["partner_reference"] == "R-1"


# --------------------------------------------------------------- liquidity


def test_the_cap_is_drawn_exactly_and_not_one_unit_beyond(database, clock):
    # No prefunding; cap 10,150.00 RUB: exactly one 10,000.00 send with its 150.00 fee;
    # then even 0.10 RUB (the least that buys a diram) is beyond it.
    world = build_world(database, clock, cap_minor=1_015_000, top_up_minor=0)
    first = reserve(world, world.explicit("fits"))
    assert world.balances(world.settlement_id) == (0, -1_015_000, -1_015_000)
    counts = row_counts(world.database)
    with pytest.raises(InsufficientLiquidity) as refused:
        reserve(world, world.explicit("beyond", amount="0.10", fee=(0, "RUB")))
    assert refused.value.code == "insufficient_liquidity"
    assert row_counts(world.database) == counts
    complete(world, first.id)
    assert world.balances(world.settlement_id) == (-1_015_000, 0, -1_015_000)


def test_a_completed_remittance_row_cannot_be_changed(world):
    remittance = complete(world, reserve(world, world.explicit()).id)
    with pytest.raises(Exception, match="remittances"):
        world.run(
            lambda c: c.execute(
                text("UPDATE remittances SET status = 'failed' WHERE id = :id"),
                {"id": remittance.id.hex if world.database.dialect == "sqlite" else remittance.id},
            )
        )
