"""The operator CLI against a real database (both): rates and remittance imports with
their reports, expiry, the first admin key."""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest

from ledger.cli import main
from ledger.remittance.rates import list_rates
from ledger.remittance.remittances import get_remittance, reserve_remittance
from tests.integration.test_remittance_imports import HEADER, row
from tests.remittance_support import POLICY, build_world


@pytest.fixture
def url(database, monkeypatch) -> str:
    value = database.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", value)
    return value


def test_import_rates_loads_a_file_and_names_bad_lines(database, url, tmp_path, capsys):
    good = tmp_path / "rates.csv"
    good.write_text(
        "date,source,base,quote,mid_rate\n2026-03-01,cbr,RUB,TJS,0.1192\n2026-03-01,cbr,USD,RUB,90\n"
    )
    assert main(["import-rates", str(good)]) == 0
    assert "loaded 2 rate(s)" in capsys.readouterr().out
    assert main(["import-rates", str(good)]) == 0
    assert "0 rate(s); 2 already there" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "date,source,base,quote,mid_rate\n2026-03-02,cbr,RUB,TJS,0.1192\n"
        "2026-13-01,cbr,RUB,TJS,1\n2026-03-02,cbr,RUB,TJS,0.1\n2026-03-02,cbr,RUB,RUB,1\n"
    )
    assert main(["import-rates", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line 3" in err and "line 5" in err
    rates = database.run(lambda c: list_rates(c, limit=10))
    assert len(rates) == 2  # nothing of the bad file


def test_import_remittances_shows_progress_and_writes_rejections(
    database, clock, url, tmp_path, capsys
):
    world = build_world(database, clock)
    # The CLI stamps the import with the system clock: rows completed in March 2026
    # are in the past.
    path = tmp_path / "march.csv"
    rows = "".join(
        row(f"I-{n}", send_amount="100.00", fee="5.00", receive_amount="") for n in range(1_500)
    )
    path.write_text(HEADER + rows + row("bad", send_amount="1.001"))
    out_path = tmp_path / "rejected.csv"
    code = main(["import-remittances", "--partner", "zk", str(path), "--rejections", str(out_path)])
    captured = capsys.readouterr()
    assert code == 2  # some rows were rejected
    assert "1500 accepted" in captured.out and "1 rejected" in captured.out
    assert "1,501 / 1,501 rows" in captured.err
    (rejected,) = list(csv.DictReader(out_path.open()))
    assert (rejected["line"], rejected["code"]) == ("1502", "too_many_decimals")
    assert world.balances(world.fee_account_id)[0] == 1_500 * 500
    assert main(["import-remittances", "--partner", "nobody", str(path)]) == 1


def test_expire_remittances_voids_stale_reservations(database, clock, url, capsys):
    world = build_world(database, clock)
    # Reserved long ago (the fixture's clock is in the past of the system clock).
    record = database.run(
        lambda c: reserve_remittance(
            c, world.partner, world.explicit(), now=clock.now(), policy=POLICY
        )
    )
    assert record.expires_at == clock.now() + timedelta(hours=24)
    assert main(["expire-remittances"]) == 0
    assert "expired 1 remittance reservation(s)" in capsys.readouterr().out
    assert database.run(lambda c: get_remittance(c, None, record.id)).status == "expired"


def test_create_admin_key_prints_a_key_once(database, url, capsys):
    assert main(["create-admin-key", "--slug", "root"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("lk_")
