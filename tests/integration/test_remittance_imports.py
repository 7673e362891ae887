"""Bulk CSV import of completed remittances, on both databases: good rows go in, every
bad row is reported with its line and reason, a second import of the file changes
nothing, and the money lands exactly as the API would land it."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from ledger.errors import LedgerError
from ledger.remittance.imports import ImportFileInvalid, get_import, import_remittances
from ledger.remittance.remittances import list_remittances
from tests.remittance_support import POLICY, World, build_world
from tests.support import row_counts

HEADER = (
    "partner_reference,corridor,sender_name,sender_country,beneficiary_external_id,"
    "send_amount,fee,rate,receive_amount,completed_at\n"
)


@pytest.fixture
def world(database, clock) -> World:
    return build_world(database, clock)


def row(reference: str, **changes: str) -> str:
    values = {
        "partner_reference": reference,
        "corridor": "RU-RUB-TJ-TJS",
        "sender_name": "Rustam Karimov",
        "sender_country": "RU",
        "beneficiary_external_id": "b-1",
        "send_amount": "10000.00",
        "fee": "150.00",
        "rate": "0.1187232",
        "receive_amount": "1187.23",
        "completed_at": "2026-03-01T08:00:00+00:00",
    }
    values.update(changes)
    return ",".join(values.values()) + "\n"


def run_import(world: World, text: str, progress: list[int] | None = None):
    return import_remittances(
        world.database,
        world.partner,
        io.StringIO(text),
        filename="march.csv",
        now=world.clock.now(),
        policy=POLICY,
        on_progress=progress.append if progress is not None else None,
    )


def test_good_rows_are_posted_as_completed_remittances(world):
    report = run_import(
        world, HEADER + row("I-1") + row("I-2", send_amount="20000.00", receive_amount="")
    )
    assert (report.rows_total, report.accepted, report.duplicates, report.rejected) == (2, 2, 0, 0)
    records, _ = world.run(lambda c: list_remittances(c, world.partner.id, limit=10))
    assert {r.partner_reference: (r.status, r.source, r.receive_minor) for r in records} == {
        "I-1": ("completed", "import", 118_723),
        "I-2": ("completed", "import", 237_446),
    }
    # 1,000,000.00 prefunded less 10,150.00 and 20,150.00.
    assert world.balances(world.settlement_id) == (100_000_000 - 3_030_000, 0, 96_970_000)
    assert world.balances(world.fee_account_id)[0] == 30_000
    stored = world.run(lambda c: get_import(c, world.partner.id, report.id))
    assert (stored["accepted"], stored["rejected"], stored["file_sha256"]) == (
        2,
        0,
        report.file_sha256,
    )


def test_every_bad_row_is_reported_by_line_and_the_rest_go_in(world):
    lines = [
        row("ok-1"),
        row("bad-decimals", send_amount="10000.001"),
        row("bad-corridor", corridor="RU-RUB-XX-TJS"),
        row("bad-customer", beneficiary_external_id="nobody"),
        row("bad-receive", receive_amount="1187.24"),
        row("bad-future", completed_at="2026-03-02T09:00:00+00:00"),
        row("bad-naive", completed_at="2026-03-01T08:00:00"),
        row("bad-rate", rate="-1"),
        row("", sender_name="No reference"),
        row("bad-zero", send_amount="0.00"),
        row("ok-2"),
    ]
    report = run_import(world, HEADER + "".join(lines))
    assert (report.accepted, report.rejected) == (2, 9)
    assert [(r.line, r.partner_reference, r.code) for r in report.rejections] == [
        (3, "bad-decimals", "too_many_decimals"),
        (4, "bad-corridor", "corridor_not_found"),
        (5, "bad-customer", "customer_not_found"),
        (6, "bad-receive", "receive_amount_mismatch"),
        (7, "bad-future", "completed_in_future"),
        (8, "bad-naive", "validation_error"),
        (9, "bad-rate", "validation_error"),
        (10, None, "validation_error"),
        (11, "bad-zero", "invalid_amount"),
    ]


def test_importing_the_same_file_again_changes_nothing(world):
    text = HEADER + row("I-1") + row("I-2")
    first = run_import(world, text)
    counts = row_counts(world.database)
    again = run_import(world, text)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 2, 0)
    assert again.file_sha256 == first.file_sha256
    counts_after = row_counts(world.database)
    assert counts_after.pop("remittance_imports") == counts.pop("remittance_imports") + 1
    assert counts_after == counts


def test_a_reference_reused_with_other_content_is_rejected(world):
    run_import(world, HEADER + row("I-1"))
    report = run_import(world, HEADER + row("I-1", send_amount="5000.00", receive_amount=""))
    assert [(r.partner_reference, r.code) for r in report.rejections] == [
        ("I-1", "remittance_exists")
    ]


def test_a_reference_twice_in_one_file_is_a_duplicate_or_a_conflict(world):
    report = run_import(
        world, HEADER + row("I-1") + row("I-1") + row("I-1", send_amount="1.00", receive_amount="")
    )
    assert (report.accepted, report.duplicates) == (1, 1)
    assert [(r.line, r.code) for r in report.rejections] == [(4, "remittance_exists")]


def test_rows_beyond_the_partners_liquidity_are_rejected_one_by_one(database, clock):
    # Cap 25,000.00 RUB and no prefunding: two 10,150.00 rows fit, the third does not.
    world = build_world(database, clock, cap_minor=2_500_000, top_up_minor=0)
    report = run_import(world, HEADER + row("I-1") + row("I-2") + row("I-3"))
    assert report.accepted == 2
    assert [(r.line, r.code) for r in report.rejections] == [(4, "insufficient_liquidity")]


def test_a_large_file_is_imported_in_chunks_with_progress(world):
    rows = "".join(
        row(f"I-{n}", send_amount="100.00", fee="5.00", receive_amount="") for n in range(2_500)
    )
    progress: list[int] = []
    report = run_import(world, HEADER + rows, progress)
    assert (report.rows_total, report.accepted) == (2_500, 2_500)
    assert progress == [1_000, 2_000, 2_500]


@pytest.mark.parametrize(
    "header",
    [
        "partner_reference,corridor\n",
        HEADER.replace("beneficiary_external_id", "beneficiary"),
        HEADER.replace("\n", ",colour\n"),
        HEADER.replace("fee", "send_amount"),
    ],
)
def test_a_file_with_a_bad_header_is_refused_whole(world, header):
    counts = row_counts(world.database)
    with pytest.raises(ImportFileInvalid):
        run_import(world, header + row("I-1"))
    assert row_counts(world.database) == counts


def test_an_old_remittance_needs_the_mid_rate_of_its_day(world):
    old = (world.clock.now() - timedelta(days=30)).isoformat()
    report = run_import(world, HEADER + row("I-old", completed_at=old))
    assert [r.code for r in report.rejections] == ["stale_rate"]


def test_rejections_carry_plain_messages(world):
    report = run_import(world, HEADER + row("x", beneficiary_external_id="nobody"))
    (rejection,) = report.rejections
    assert "nobody" in rejection.message
    assert isinstance(LedgerError("m").as_dict(), dict)


def test_an_unreadable_line_is_rejected_and_the_rest_go_in(world):
    huge = '"' + "x" * 200_000 + '"'
    text = HEADER + row("I-1") + row("I-2", sender_name=huge) + row("I-3")
    report = run_import(world, text)
    assert (report.rows_total, report.accepted) == (3, 2)
    assert [(r.line, r.code) for r in report.rejections] == [(3, "unreadable_line")]
    stored = world.run(lambda c: get_import(c, world.partner.id, report.id))
    assert (stored["accepted"], stored["rejected"], stored["report"]["state"]) == (2, 1, "done")


def test_an_import_stopped_half_way_says_how_far_it_got(world, monkeypatch):
    import ledger.remittance.imports as imports

    monkeypatch.setattr(imports, "IMPORT_ROWS_MAX", 1_500)
    rows = "".join(
        row(f"I-{n}", send_amount="100.00", fee="5.00", receive_amount="") for n in range(2_500)
    )
    with pytest.raises(LedgerError):
        run_import(world, HEADER + rows)
    (stored,) = world.run(
        lambda c: [dict(r._mapping) for r in c.execute(select(imports.imports_table))]
    )
    assert (stored["accepted"], stored["report"]["state"]) == (1_000, "failed")
    assert "at most 1500 rows" in stored["report"]["stopped_because"]


def test_a_row_s_business_day_is_its_utc_day(world):
    # 02:00 at +05:00 on March 1st is 21:00 UTC on February 28th: the mid-rate of the
    # 28th; the same instant written in UTC is the same row (a duplicate, not a conflict).
    report = run_import(world, HEADER + row("TZ-1", completed_at="2026-03-01T02:00:00+05:00"))
    assert report.accepted == 1
    (record,) = world.run(lambda c: list_remittances(c, world.partner.id, limit=1))[0]
    assert record.rate_date == date(2026, 2, 28)
    again = run_import(world, HEADER + row("TZ-1", completed_at="2026-02-28T21:00:00Z"))
    assert (again.duplicates, again.rejected) == (1, 0)


def test_a_row_is_priced_with_the_rate_source_in_force_when_it_completed(world):
    from ledger.remittance.corridors import set_pricing
    from tests.remittance_support import RUB_FEES

    world.clock.advance(timedelta(hours=1))  # 10:00; a new price from now on, new source
    world.run(
        lambda c: set_pricing(
            c,
            world.partner.id,
            "RU-RUB-TJ-TJS",
            fees=RUB_FEES,
            fx_margin=Decimal("0.004"),
            rate_source="nbt",  # no mid-rates loaded from it
            now=world.clock.now(),
        )
    )
    world.clock.advance(timedelta(hours=1))
    report = run_import(
        world,
        HEADER
        + row("before", completed_at="2026-03-01T09:30:00+00:00")
        + row("after", completed_at="2026-03-01T10:30:00+00:00"),
    )
    assert report.accepted == 1
    assert [(r.partner_reference, r.code) for r in report.rejections] == [("after", "stale_rate")]
