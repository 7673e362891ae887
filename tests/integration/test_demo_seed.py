"""The demo behind the README run command: a year of remittances and loans with the
scheduler's jobs run day by day, every stage of a loan's life, idempotent, keys usable.
Seeded once per database (it is a year of work) and read by every test here."""

import importlib.util
import json
import sys
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger.access import authenticate
from ledger.credit.applications import list_applications
from ledger.credit.loans import charges, list_loans, repayments
from ledger.credit.schemes import list_schemes
from ledger.errors import LedgerError
from ledger.jobs.daily import JOB_NAMES
from ledger.jobs.runs import job_runs
from ledger.journal import check_invariants
from ledger.parties import list_customers
from ledger.portfolio.service import get_snapshot
from ledger.portfolio.tape import loan_tape
from ledger.remittance.inflows import remittance_history
from ledger.remittance.models import Remittance
from ledger.remittance.reports import corridor_costs
from tests.conftest import DATABASES, _open

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 12, 1)
remittances = Remittance.__table__


def load_seed_module():
    spec = importlib.util.spec_from_file_location("seed_demo", ROOT / "scripts" / "seed_demo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["seed_demo"] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=DATABASES)
def seeded(request, tmp_path_factory):
    database = _open(request.param, request, tmp_path_factory.mktemp("demo"))
    keys_file = tmp_path_factory.mktemp("keys") / "demo-keys.json"
    module = load_seed_module()
    summary = module.seed(database, keys_file, today=TODAY)
    yield {"database": database, "keys": keys_file, "summary": summary, "module": module}
    assert database.run(check_invariants) == []
    database.dispose()


def count(database, query) -> int:
    return database.run(lambda c: c.execute(query).scalar_one())


def test_a_year_of_remittances_across_the_corridors_and_keys_that_work(seeded):
    database, summary = seeded["database"], seeded["summary"]
    assert summary["remittances_created"] > 600
    assert (summary["loans_created"], summary["days_simulated"]) == (17, 365)
    keys = json.loads(seeded["keys"].read_text())
    assert {entry["role"] for entry in keys.values()} == {"admin", "partner", "fund_manager"}
    for slug, entry in keys.items():
        holder, _ = database.run(lambda c, key=entry["key"]: authenticate(c, key))
        assert (holder.slug, holder.role) == (slug, entry["role"])
    assert seeded["keys"].stat().st_mode & 0o077 == 0  # secrets: owner only
    by_corridor = database.run(
        lambda c: dict(
            c.execute(
                select(remittances.c.corridor_code, func.count()).group_by(
                    remittances.c.corridor_code
                )
            ).all()
        )
    )
    assert set(by_corridor) == {
        "RU-RUB-TJ-TJS",
        "RU-RUB-UZ-UZS",
        "KZ-KZT-KG-KGS",
        "RU-RUB-KG-KGS",
        "RU-RUB-KZ-KZT",
    }
    statuses = database.run(
        lambda c: Counter(
            dict(c.execute(select(remittances.c.status, func.count()).group_by("status")).all())
        )
    )
    assert set(statuses) == {"completed", "failed", "expired"}  # expired by the job
    assert statuses["completed"] > 0.85 * sum(statuses.values())
    first = count(database, select(func.min(remittances.c.effective_at)))
    assert first.date() < date(2025, 12, 31)


def test_the_scheduler_ran_every_date_and_loans_are_at_every_stage(seeded):
    database = seeded["database"]
    runs = database.run(lambda c: c.execute(select(job_runs.c.status, job_runs.c.job)).all())
    assert len(runs) == 365 * len(JOB_NAMES) and {r.status for r in runs} == {"succeeded"}
    loans, _ = database.run(lambda c: list_loans(c, limit=100))
    assert {loan.status for loan in loans} == {"active", "closed", "written_off"}
    tape = database.run(lambda c: loan_tape(c, date(2026, 11, 30)))
    assert any(row.days_past_due > 30 for row in tape)  # some in arrears
    assert any(row.days_past_due > 90 for row in tape)
    assert all(row.interest_accrued_minor > 0 for row in tape)  # accrued day by day
    assert count(database, select(func.count()).select_from(charges)) > 0  # late fees
    swept = select(func.count()).select_from(repayments).where(repayments.c.source == "sweep")
    assert count(database, swept) > 0
    pending, _ = database.run(lambda c: list_applications(c, status="submitted", limit=10))
    assert len(pending) == 1
    schemes = database.run(list_schemes)
    assert {s.currency for s in schemes} == {"TJS", "KGS", "UZS"}
    snapshots = [
        database.run(lambda c, s=s: get_snapshot(c, s.id, date(2026, 11, 30))) for s in schemes
    ]
    assert all(snapshot is not None for snapshot in snapshots)
    assert any(s["par30"]["amount_minor"] > 0 for s in snapshots)


def test_the_demo_shows_both_sdg_flags_and_a_history(seeded):
    database = seeded["database"]
    report = database.run(
        lambda c: corridor_costs(c, start=date(2026, 8, 1), end=date(2026, 11, 30))
    )
    flags = {
        (line.corridor_code, line.above_5_percent, line.within_3_percent)
        for line in report.partners
    }
    assert ("RU-RUB-TJ-TJS", True, False) in flags  # the expensive operator
    assert ("RU-RUB-TJ-TJS", False, True) in flags  # the cheap one
    keys = json.loads(seeded["keys"].read_text())
    zk = uuid.UUID(keys["zolotaya-korona"]["principal_id"])
    farrukh = database.run(lambda c: list_customers(c, zk, external_id="tj-0001", limit=1))[0][0]
    (history,) = database.run(
        lambda c: remittance_history(c, farrukh.id, as_of=date(2026, 11, 30), months=12)
    )
    assert history.currency == "TJS" and 6 <= history.regularity <= 12


def test_demo_seed_runs_again_without_writing_or_changing_keys(seeded):
    before = seeded["keys"].read_text()
    again = seeded["module"].seed(seeded["database"], seeded["keys"], today=TODAY)
    assert (again["remittances_created"], again["loans_created"]) == (0, 0)
    assert (again["days_simulated"], again["sealed"]) == (0, 0)
    assert seeded["keys"].read_text() == before


def test_lost_demo_keys_are_revoked_and_issued_afresh(seeded):
    database, keys_file = seeded["database"], seeded["keys"]
    old = json.loads(keys_file.read_text())
    keys_file.unlink()
    seeded["module"].seed(database, keys_file, today=TODAY)
    new = json.loads(keys_file.read_text())
    assert new["admin"]["key"] != old["admin"]["key"]
    with pytest.raises(LedgerError) as refused:
        database.run(lambda c: authenticate(c, old["admin"]["key"]))
    assert refused.value.code == "unauthenticated"
