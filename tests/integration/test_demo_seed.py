"""The demo seeding behind the README run command: complete, idempotent, keys usable."""

import importlib.util
import json
import sys
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from ledger.access import authenticate
from ledger.credit.loans import list_loans
from ledger.errors import LedgerError
from ledger.parties import list_customers
from ledger.remittance.inflows import remittance_history
from ledger.remittance.remittances import list_remittances
from ledger.remittance.reports import corridor_costs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def seed_module():
    spec = importlib.util.spec_from_file_location("seed_demo", ROOT / "scripts" / "seed_demo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["seed_demo"] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def test_demo_seed_creates_partners_keys_and_months_of_remittances(database, seed_module, tmp_path):
    keys_file = tmp_path / "demo-keys.json"
    summary = seed_module.seed(database, keys_file, today=date(2026, 12, 1))
    assert summary["remittances_created"] > 60
    keys = json.loads(keys_file.read_text())
    assert {entry["role"] for entry in keys.values()} == {"admin", "partner", "fund_manager"}
    for slug, entry in keys.items():
        holder, _ = database.run(lambda c, key=entry["key"]: authenticate(c, key))
        assert (holder.slug, holder.role) == (slug, entry["role"])
    zk = uuid.UUID(keys["zolotaya-korona"]["principal_id"])
    records, _ = database.run(lambda c: list_remittances(c, zk, limit=1000))
    statuses = Counter(r.status for r in records)
    assert statuses["completed"] > 0.8 * len(records)
    assert summary["loans_created"] == 4
    loans, _ = database.run(lambda c: list_loans(c, partner_id=zk, limit=10))
    assert sorted(loan.status for loan in loans) == ["active", "active", "active", "written_off"]
    assert set(statuses) <= {"completed", "failed", "expired"}
    assert keys_file.stat().st_mode & 0o077 == 0  # secrets: owner only


def test_the_demo_shows_both_sdg_flags_and_a_history(database, seed_module, tmp_path):
    seed_module.seed(database, tmp_path / "keys.json", today=date(2026, 12, 1))
    report = database.run(
        lambda c: corridor_costs(c, start=date(2026, 8, 1), end=date(2026, 11, 30))
    )
    flags = {
        (line.corridor_code, line.above_5_percent, line.within_3_percent)
        for line in report.partners
    }
    assert ("RU-RUB-TJ-TJS", True, False) in flags  # the expensive operator
    assert ("RU-RUB-TJ-TJS", False, True) in flags  # the cheap one
    keys = json.loads((tmp_path / "keys.json").read_text())
    zk = uuid.UUID(keys["zolotaya-korona"]["principal_id"])
    farrukh = database.run(lambda c: list_customers(c, zk, external_id="tj-0001", limit=1))[0][0]
    (history,) = database.run(
        lambda c: remittance_history(c, farrukh.id, as_of=date(2026, 11, 30), months=4)
    )
    assert history.currency == "TJS" and 1 <= history.regularity <= 4


def test_demo_seed_runs_again_without_writing_or_changing_keys(database, seed_module, tmp_path):
    keys_file = tmp_path / "demo-keys.json"
    seed_module.seed(database, keys_file, today=date(2026, 12, 1))
    before = keys_file.read_text()
    again = seed_module.seed(database, keys_file, today=date(2026, 12, 1))
    assert again["remittances_created"] == 0
    assert again["loans_created"] == 0
    assert again["sealed"] == 0
    assert keys_file.read_text() == before


def test_lost_demo_keys_are_revoked_and_issued_afresh(database, seed_module, tmp_path):
    keys_file = tmp_path / "demo-keys.json"
    seed_module.seed(database, keys_file)
    old = json.loads(keys_file.read_text())
    keys_file.unlink()
    seed_module.seed(database, keys_file)
    new = json.loads(keys_file.read_text())
    assert new["admin"]["key"] != old["admin"]["key"]
    with pytest.raises(LedgerError) as refused:
        database.run(lambda c: authenticate(c, old["admin"]["key"]))
    assert refused.value.code == "unauthenticated"
