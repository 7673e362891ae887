"""The demo seeding behind the README run command: complete, idempotent, keys usable."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from ledger.access import authenticate
from ledger.errors import LedgerError
from ledger.journal.queries import list_transactions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def seed_module():
    spec = importlib.util.spec_from_file_location("seed_demo", ROOT / "scripts" / "seed_demo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["seed_demo"] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def test_demo_seed_creates_partners_keys_and_a_month_of_transactions(
    database, seed_module, tmp_path
):
    keys_file = tmp_path / "demo-keys.json"
    summary = seed_module.seed(database, keys_file)
    expected = sum(2 * plan.remittances + 1 for plan in seed_module.PARTNERS)
    assert summary["transactions_created"] == expected - len(seed_module.PARTNERS)
    keys = json.loads(keys_file.read_text())
    assert {entry["role"] for entry in keys.values()} == {"admin", "partner", "fund_manager"}
    for slug, entry in keys.items():
        holder, _ = database.run(lambda c, key=entry["key"]: authenticate(c, key))
        assert (holder.slug, holder.role) == (slug, entry["role"])
    zk = keys["zolotaya-korona"]
    page, more = database.run(
        lambda c: list_transactions(c, client_id=zk["principal_id"], limit=1000)
    )
    assert len(page) == 2 * 80 + 1 and not more
    assert keys_file.stat().st_mode & 0o077 == 0  # secrets: owner only


def test_demo_seed_runs_again_without_writing_or_changing_keys(database, seed_module, tmp_path):
    keys_file = tmp_path / "demo-keys.json"
    seed_module.seed(database, keys_file)
    before = keys_file.read_text()
    again = seed_module.seed(database, keys_file)
    assert again["transactions_created"] == 0
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
