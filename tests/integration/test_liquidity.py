"""Partner liquidity on both databases: positions and the alarm, top-ups and
withdrawals, cap changes, the daily settlement statement; a property test of the
partner's position; on PostgreSQL, many concurrent remittances against one cap."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.clock import FixedClock
from ledger.errors import InsufficientLiquidity, LimitBelowUsage, ValidationFailed
from ledger.journal import check_invariants, trial_balance
from ledger.remittance.liquidity import (
    adjust_liquidity,
    configure_liquidity,
    positions,
    settlement_statement,
    statement_csv,
)
from ledger.remittance.remittances import (
    fail_remittance,
)
from tests.conftest import DATABASES
from tests.conftest import _open as open_database
from tests.remittance_support import World, build_world, complete, reserve


@pytest.fixture
def world(database, clock) -> World:
    return build_world(database, clock)


def adjust(world: World, kind: str, amount_minor: int, reference: str):
    return world.run(
        lambda c: adjust_liquidity(
            c,
            world.partner.id,
            "RUB",
            kind=kind,
            amount_minor=amount_minor,
            reference=reference,
            now=world.clock.now(),
        )
    )


def position(world: World):
    (only,) = world.run(lambda c: positions(c, world.partner.id))
    return only


def configure(world: World, cap_minor: int, threshold: int = 80):
    return world.run(
        lambda c: configure_liquidity(
            c,
            world.partner,
            "RUB",
            net_debit_cap_minor=cap_minor,
            alarm_threshold_percent=threshold,
            now=world.clock.now(),
        )
    )


def test_the_position_shows_reserved_available_headroom_and_fees(world):
    done = complete(world, reserve(world, world.explicit("a")).id)
    reserve(world, world.explicit("b", amount="20000.00"))
    figures = position(world)
    # 1,000,000.00 prefunded; "a" took 10,150.00; "b" holds 20,150.00.
    assert figures.posted_minor == 100_000_000 - done.charged_minor
    assert figures.reserved_minor == 2_015_000
    assert figures.available_minor == 100_000_000 - 1_015_000 - 2_015_000
    assert figures.headroom_minor == figures.available_minor + 10_000_000
    assert (figures.cap_used_minor, figures.cap_used_percent, figures.alarm) == (
        0,
        Decimal("0.00"),
        False,
    )
    assert figures.fees_earned_minor == 15_000


def test_the_alarm_rings_at_the_threshold_of_the_cap(database, clock):
    # Cap 100,000.00, no prefunding, alarm at 80% = 80,000.00 drawn.
    world = build_world(database, clock, cap_minor=10_000_000, top_up_minor=0)
    reserve(world, world.explicit("a", amount="69000.00", fee=(0, "RUB")))
    assert position(world).alarm is False
    reserve(world, world.explicit("b", amount="10999.99", fee=(0, "RUB")))
    assert (position(world).cap_used_percent, position(world).alarm) == (Decimal("79.99"), False)
    reserve(world, world.explicit("c", amount="0.10", fee=(0, "RUB")))
    assert (position(world).cap_used_percent, position(world).alarm) == (Decimal("80.00"), True)


def test_a_withdrawal_may_not_draw_on_the_cap(world):
    with pytest.raises(InsufficientLiquidity):
        adjust(world, "withdrawal", 100_000_001, "W-1")
    adjust(world, "withdrawal", 100_000_000, "W-2")
    assert position(world).available_minor == 0


def test_an_adjustment_is_idempotent_by_its_reference(world):
    first = adjust(world, "top_up", 500, "T-9")
    again = adjust(world, "top_up", 500, "T-9")
    assert again.transaction.id == first.transaction.id and again.transaction.replayed
    assert position(world).posted_minor == 100_000_500


def test_the_cap_cannot_drop_below_what_is_drawn(database, clock):
    world = build_world(database, clock, cap_minor=10_000_000, top_up_minor=0)
    reserve(world, world.explicit("a", amount="50000.00", fee=(0, "RUB")))
    with pytest.raises(LimitBelowUsage):
        configure(world, 4_999_999)
    configure(world, 5_000_000, threshold=50)
    figures = position(world)
    assert (figures.net_debit_cap_minor, figures.headroom_minor, figures.alarm) == (
        5_000_000,
        0,
        True,
    )
    with pytest.raises(InsufficientLiquidity):
        reserve(world, world.explicit("b", amount="0.10", fee=(0, "RUB")))


@pytest.mark.parametrize("threshold", [0, 101, True])
def test_a_bad_alarm_threshold_is_refused(world, threshold):
    with pytest.raises(ValidationFailed):
        configure(world, 1_000, threshold=threshold)


def test_the_settlement_statement_reconciles_day_by_day(world):
    start = world.clock.now().date()
    complete(world, reserve(world, world.explicit("d1-a")).id)  # 10,000.00 + 150.00
    reserve(world, world.explicit("d1-held", amount="5000.00"))  # still reserved: not in it
    world.clock.advance(timedelta(days=1))
    adjust(world, "top_up", 2_000_000, "T-day2")
    complete(world, reserve(world, world.explicit("d2-a", amount="20000.00")).id)
    failed = reserve(world, world.explicit("d2-failed", amount="3000.00"))
    world.run(
        lambda c: fail_remittance(
            c, world.partner.id, failed.id, reason="no payout", now=world.clock.now()
        )
    )
    days = world.run(
        lambda c: settlement_statement(
            c, world.partner.id, "RUB", start=start - timedelta(days=1), end=start + timedelta(2)
        )
    )
    table = [
        (
            d.day,
            d.opening_minor,
            d.remittances_count,
            d.remittances_minor,
            d.fees_minor,
            d.adjustments_minor,
            d.closing_minor,
        )
        for d in days
    ]
    day0, day1, day2, day3 = (start + timedelta(days=n) for n in (-1, 0, 1, 2))
    assert table == [
        (day0, 0, 0, 0, 0, 0, 0),
        (day1, 0, 1, 1_000_000, 15_000, 100_000_000, 98_985_000),
        (day2, 98_985_000, 1, 2_000_000, 15_000, 2_000_000, 98_970_000),
        (day3, 98_970_000, 0, 0, 0, 0, 98_970_000),
    ]
    assert position(world).posted_minor == 98_970_000
    csv_text = statement_csv(days)
    assert csv_text.splitlines()[0] == (
        "date,currency,opening,remittances_count,remittances,fees,adjustments,closing"
    )
    assert csv_text.splitlines()[2] == (f"{day1},RUB,0.00,1,10000.00,150.00,1000000.00,989850.00")


def test_a_statement_of_more_than_a_year_is_refused(world):
    from ledger.errors import LimitExceeded

    with pytest.raises(LimitExceeded):
        world.run(
            lambda c: settlement_statement(
                c, world.partner.id, "RUB", start=date(2025, 1, 1), end=date(2026, 1, 2)
            )
        )


# ------------------------------------------------------------ the property


operations = st.lists(
    st.tuples(
        st.sampled_from(["remit", "remit", "remit", "top_up", "complete", "fail"]),
        st.integers(min_value=10, max_value=5_000_000),  # kopeks
        st.integers(min_value=0, max_value=20_000),  # fee kopeks
    ),
    min_size=1,
    max_size=25,
)


_examples = iter(range(10**9))


@pytest.mark.parametrize("kind", DATABASES)
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
def test_the_partner_position_is_its_top_ups_less_what_its_remittances_took(
    kind, request, tmp_path, steps
):
    """Whatever happens, each currency balances, the settlement account's posted
    balance is top-ups less send-plus-fee of completed remittances, its available
    balance also less what reserved ones hold, and it never passes the cap."""
    directory = tmp_path / f"example-{next(_examples)}"
    directory.mkdir()
    database = open_database(kind, request, directory)  # a fresh, empty database
    clock = FixedClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    try:
        world = build_world(database, clock, cap_minor=3_000_000, top_up_minor=1_000_000)
        top_ups, completed_total = 1_000_000, 0
        reserved: dict[uuid.UUID, int] = {}
        for number, (operation, amount, fee) in enumerate(steps):
            reference = f"R-{number}"
            if operation == "remit":
                send = world.explicit(reference, amount=str(Decimal(amount) / 100))
                try:
                    record = reserve(world, replace(send, fee=(fee, "RUB")))
                except InsufficientLiquidity:
                    assert position(world).headroom_minor < amount + fee
                    continue
                reserved[record.id] = record.charged_minor
            elif operation == "top_up":
                adjust(world, "top_up", amount, reference)
                top_ups += amount
            elif reserved:
                remittance_id, charged = reserved.popitem()
                if operation == "complete":
                    complete(world, remittance_id)
                    completed_total += charged
                else:
                    world.run(
                        lambda c, rid=remittance_id: fail_remittance(
                            c, world.partner.id, rid, reason="x", now=clock.now()
                        )
                    )
            figures = position(world)
            assert figures.posted_minor == top_ups - completed_total
            assert figures.available_minor == top_ups - completed_total - sum(reserved.values())
            assert figures.available_minor >= -3_000_000
        assert all(line.balanced for line in world.run(trial_balance))
        assert world.run(check_invariants) == []
    finally:
        database.dispose()


# ----------------------------------------------------------- concurrency


@pytest.mark.slow
def test_concurrent_remittances_never_pass_the_cap(postgres_database, clock):
    """16 threads reserve 10,150.00 RUB remittances against a cap of 101,500.00 with
    no prefunding: exactly ten fit, every other one is insufficient_liquidity."""
    world = build_world(postgres_database, clock, cap_minor=10_150_000, top_up_minor=0)
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def sender(number: int) -> None:
        start.wait()
        for attempt in range(3):
            try:
                reserve(world, world.explicit(f"T-{number}-{attempt}"))
                result = "reserved"
            except InsufficientLiquidity:
                result = "refused"
            except Exception as error:  # any other outcome fails the count, by name
                result = repr(error)
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("reserved") == 10
    assert outcomes.count("refused") == 38
    figures = position(world)
    assert figures.available_minor == -10_150_000
    assert figures.headroom_minor == 0


def test_statement_days_are_utc_days(world):
    # A remittance at 23:30 UTC belongs to that UTC day, whatever the partner's zone.
    world.clock.set(datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    complete(world, reserve(world, world.explicit("late")).id)
    (day,) = world.run(
        lambda c: settlement_statement(
            c, world.partner.id, "RUB", start=date(2026, 3, 1), end=date(2026, 3, 1)
        )
    )
    assert day.remittances_count == 1


def test_a_withdrawal_retried_with_its_reference_replays_whatever_the_balance(world):
    first = adjust(world, "withdrawal", 100_000_000, "W-1")
    again = adjust(world, "withdrawal", 100_000_000, "W-1")  # nothing is available now
    assert again.transaction.id == first.transaction.id and again.transaction.replayed
    assert position(world).posted_minor == 0


def test_a_bank_reference_may_hold_spaces_and_any_script(world):
    spaced = adjust(world, "top_up", 100, "FT 2611 0012")
    cyrillic = adjust(world, "top_up", 200, "Платёж № 17")
    assert spaced.transaction.id != cyrillic.transaction.id
    assert adjust(world, "top_up", 100, "FT 2611 0012").transaction.replayed


def test_a_statement_over_more_remittances_than_a_query_takes_ids(world):
    from tests.integration.test_remittance_imports import HEADER, row, run_import

    rows = "".join(
        row(f"S-{n}", send_amount="10.00", fee="1.00", receive_amount="") for n in range(1_200)
    )
    assert run_import(world, HEADER + rows).accepted == 1_200
    (day,) = world.run(
        lambda c: settlement_statement(
            c, world.partner.id, "RUB", start=date(2026, 3, 1), end=date(2026, 3, 1)
        )
    )
    assert (day.remittances_count, day.remittances_minor, day.fees_minor) == (
        1_200,
        1_200_000,
        120_000,
    )
