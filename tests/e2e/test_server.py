"""End to end: the real server (gunicorn, 2 workers) on a real PostgreSQL, over HTTP.

One gunicorn for the module, started the way scripts/run starts it, on a port the
OS picks, with DATABASE_URL naming the session's throwaway PostgreSQL database
(emptied first, then a partner and its key created directly with ledger.access).
The tests drive it with ``requests`` only; no test here uses the ``database`` or
``postgres_database`` fixtures, since those empty the tables under the server.
When the module is done, gunicorn is stopped and the journal's invariants must
hold. On a failure, gunicorn's output is attached to the report
(tests/e2e/conftest.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from threading import Barrier
from typing import Any

import pytest
import requests

from ledger.access import create_principal, issue_key
from ledger.db import create_database
from ledger.journal import check_invariants
from ledger.parties import create_customer
from ledger.remittance.corridors import create_corridor, set_pricing
from ledger.remittance.liquidity import configure_liquidity
from ledger.remittance.pricing import FeeSchedule, FeeTier
from ledger.remittance.rates import RateInput, load_rates
from tests.conftest import empty_postgres

pytestmark = pytest.mark.postgresql

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"  # the virtualenv's, next to python
START_TIMEOUT = 15.0
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


@dataclass
class Server:
    """A running gunicorn: its base URL, the partner's key, its output so far."""

    process: subprocess.Popen[bytes]
    log_path: Path
    base_url: str = ""
    key: str = ""
    session: requests.Session = field(default_factory=requests.Session)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def url(self, path: str) -> str:
        return self.base_url + path

    def headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.key}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url(path), headers=self.headers(), timeout=10, **kwargs)

    def post(self, path: str, body: Any, key: str | None = None) -> requests.Response:
        """POST JSON on a fresh connection (thread-safe), with an Idempotency-Key or none."""
        return requests.post(self.url(path), json=body, headers=self.headers(key), timeout=10)


def _wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}")
        if not server.base_url and (match := LISTENING.search(server.log())):
            server.base_url = f"http://127.0.0.1:{match.group(1)}"
        if server.base_url:
            try:
                if requests.get(server.url("/readyz"), timeout=1).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or a worker booting
                pass
        time.sleep(0.05)
    raise RuntimeError(f"gunicorn not ready after {START_TIMEOUT} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()  # graceful: the master stops its workers
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    database = create_database(postgres_url)
    empty_postgres(database)
    now = datetime.now(UTC)

    def make_partner(connection: Any) -> str:
        partner = create_principal(
            connection, slug="e2e-partner", name="E2E", role="partner", now=now
        )
        _remittance_market(connection, partner, now)
        return issue_key(connection, partner.id, label="e2e", now=now).secret

    key = database.run(make_partner)
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "LOG_REQUESTS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(GUNICORN),
                "--bind",
                "127.0.0.1:0",  # the OS picks a free port; gunicorn logs it
                "--workers",
                "2",
                "--no-control-socket",  # no socket in $HOME shared with other gunicorns
                "--graceful-timeout",
                "5",
                "api.app:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = Server(process, log_path, key=key)
    try:
        try:
            _wait_until_ready(running)
        except RuntimeError as error:
            pytest.fail(f"{error}\n--- gunicorn output ---\n{running.log()}", pytrace=False)
        yield running
    finally:
        running.session.close()
        _stop(process)
        problems = database.run(check_invariants)
        database.dispose()
    assert problems == [], problems


def _remittance_market(connection: Any, partner: Any, now: datetime) -> None:
    """RU-RUB-TJ-TJS with the partner's price, today's mid-rate (the server's clock is
    the system's), RUB liquidity: no prefunding, a net debit cap of 50,750.00 (five
    10,000.00 remittances with their 150.00 fees), and a beneficiary."""
    create_corridor(
        connection,
        send_country="RU",
        send_currency="RUB",
        receive_country="TJ",
        receive_currency="TJS",
        now=now,
    )
    fees = FeeSchedule("RUB", (FeeTier(0, 0, Decimal("0.015")),), minimum_minor=5_000)
    set_pricing(
        connection,
        partner.id,
        "RU-RUB-TJ-TJS",
        fees=fees,
        fx_margin=Decimal("0.004"),
        rate_source="cbr",
        now=now,
    )
    load_rates(
        connection,
        [
            RateInput(now.date() - timedelta(days=d), "cbr", "RUB", "TJS", Decimal("0.1192"))
            for d in (0, 1)
        ],
        now=now,
    )
    configure_liquidity(connection, partner, "RUB", net_debit_cap_minor=5_075_000, now=now)
    create_customer(
        connection,
        partner.id,
        external_id="e2e-b",
        full_name="Farrukh Rahimov",
        country="TJ",
        kind="migrant",
        now=now,
    )


# ------------------------------------------------------------------------ helpers


def money(amount: str, currency: str = "RUB") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def transfer(source: int, target: int, amount: str, **extra: Any) -> dict[str, Any]:
    """Debit ``source``, credit ``target``."""
    return {
        "postings": [
            {"account_id": source, "direction": "debit", "amount": money(amount)},
            {"account_id": target, "direction": "credit", "amount": money(amount)},
        ],
        **extra,
    }


def new_key() -> str:
    return f"e2e-{uuid.uuid4()}"


def open_account(server: Server, **fields: Any) -> dict[str, Any]:
    body = {"name": "Wallet", "type": "liability", "currency": "RUB", **fields}
    response = server.post("/v1/accounts", body)
    assert response.status_code == 201, response.text
    return response.json()


def settlement(server: Server) -> int:
    """An asset account that may go negative: where money enters."""
    return open_account(server, name="Settlement", type="asset", allow_overdraft=True)["id"]


def posted(server: Server, account_id: int) -> str:
    response = server.get(f"/v1/accounts/{account_id}")
    assert response.status_code == 200, response.text
    return response.json()["balances"]["posted"]["amount"]


def fund(server: Server, source: int, target: int, amount: str) -> dict[str, Any]:
    response = server.post("/v1/transactions", transfer(source, target, amount), key=new_key())
    assert response.status_code == 201, response.text
    return response.json()


# -------------------------------------------------------------------------- tests


def test_health_openapi_and_offline_docs_are_served(server: Server) -> None:
    assert requests.get(server.url("/healthz"), timeout=5).json() == {"status": "ok"}
    ready = requests.get(server.url("/readyz"), timeout=5).json()
    assert ready["status"] == "ready" and ready["database"] == "postgresql"

    spec = requests.get(server.url("/v1/openapi.json"), timeout=5)
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.0")

    docs = requests.get(server.url("/v1/docs"), timeout=5)
    assert docs.status_code == 200 and "text/html" in docs.headers["Content-Type"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert "/v1/docs/assets/swagger-ui-bundle.js" in assets
    assert all(asset.startswith("/v1/docs/assets/") for asset in assets), assets  # no CDN
    for asset in assets:
        response = requests.get(server.url(asset), timeout=5)
        assert response.status_code == 200, asset
    bundle = requests.get(server.url("/v1/docs/assets/swagger-ui-bundle.js"), timeout=5)
    assert "javascript" in bundle.headers["Content-Type"]
    assert len(bundle.content) > 100_000 and b"SwaggerUIBundle" in bundle.content


def test_a_partner_moves_money_and_replays_are_not_posted_twice(server: Server) -> None:
    customer = server.post(
        "/v1/customers",
        {"external_id": "e2e-1", "full_name": "Dilnoza K", "country": "UZ", "kind": "migrant"},
    )
    assert customer.status_code == 201, customer.text
    customer_id = customer.json()["id"]
    source = settlement(server)
    wallet = open_account(server, name="Dilnoza", customer_id=customer_id)
    assert wallet["customer_id"] == customer_id
    assert wallet["balances"]["posted"] == money("0.00")

    key = new_key()
    body = transfer(source, wallet["id"], "250.00", description="remittance from Moscow")
    first = server.post("/v1/transactions", body, key=key)
    assert first.status_code == 201, first.text
    assert first.headers.get("Idempotent-Replayed") is None
    replay = server.post("/v1/transactions", body, key=key)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    reused = server.post("/v1/transactions", transfer(source, wallet["id"], "1.00"), key=key)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_conflict"

    fund(server, source, wallet["id"], "50.25")
    assert posted(server, wallet["id"]) == "300.25"
    assert posted(server, source) == "300.25"  # an asset: debits raise it

    statement = server.get(f"/v1/accounts/{wallet['id']}/statement")
    assert statement.status_code == 200, statement.text
    lines = statement.json()["data"]
    assert [line["amount"]["amount"] for line in lines] == ["250.00", "50.25"]
    assert [line["running_balance"]["amount"] for line in lines] == ["250.00", "300.25"]
    assert lines[0]["description"] == "remittance from Moscow"
    assert statement.json()["opening_balance"] == money("0.00")

    listed = server.get("/v1/transactions", params={"customer_id": customer_id})
    assert listed.status_code == 200
    assert first.json()["id"] in [item["id"] for item in listed.json()["data"]]


def test_errors_are_problem_json(server: Server) -> None:
    def assert_problem(response: requests.Response, status: int, code: str) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"].startswith("application/problem+json")
        body = response.json()
        assert body["code"] == code and body["status"] == status
        assert {"type", "title", "detail"} <= set(body)
        return body

    anonymous = requests.get(server.url("/v1/accounts"), timeout=5)
    assert_problem(anonymous, 401, "unauthenticated")
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    wrong_key = requests.get(
        server.url("/v1/accounts"), headers={"Authorization": "Bearer lk_nope"}, timeout=5
    )
    assert_problem(wrong_key, 401, "unauthenticated")
    assert_problem(server.get("/v1/principals"), 403, "forbidden")
    assert_problem(server.get("/v1/accounts/987654321"), 404, "account_not_found")
    assert_problem(server.get("/v1/no-such-thing"), 404, "not_found")

    source = settlement(server)
    wallet = open_account(server)["id"]
    assert_problem(
        server.post("/v1/transactions", transfer(source, wallet, "1.00")),
        400,
        "idempotency_key_required",
    )
    invalid = assert_problem(
        server.post("/v1/transactions", {"postings": "many"}, key=new_key()),
        422,
        "validation_error",
    )
    assert "postings" in invalid["errors"]
    assert_problem(
        server.post("/v1/transactions", transfer(wallet, source, "0.01"), key=new_key()),
        422,
        "insufficient_funds",
    )
    malformed = requests.post(
        server.url("/v1/customers"),
        data=b"{not json",
        headers={**server.headers(), "Content-Type": "application/json"},
        timeout=5,
    )
    assert malformed.status_code in (400, 422)
    assert malformed.headers["Content-Type"].startswith("application/problem+json")


def test_concurrent_posts_on_the_same_accounts_add_up_exactly(server: Server) -> None:
    """8 threads draw on one wallet of 100.00 in steps of 7.00: 14 fit, no more."""
    source = settlement(server)
    drawn = open_account(server, name="Drawn")["id"]
    filled = open_account(server, name="Filled")["id"]
    fund(server, source, drawn, "100.00")
    threads, per_thread = 8, 5
    start = Barrier(threads)

    def worker(_: int) -> list[tuple[int, str, str]]:
        start.wait()
        results = []
        for _ in range(per_thread):
            key = new_key()
            response = server.post("/v1/transactions", transfer(drawn, filled, "7.00"), key=key)
            results.append((response.status_code, response.json().get("code", ""), key))
        return results

    with ThreadPoolExecutor(threads) as pool:
        results = [result for batch in pool.map(worker, range(threads)) for result in batch]

    outcomes = Counter((status, code) for status, code, _ in results)
    clean = {(201, ""), (422, "insufficient_funds"), (503, "concurrency_retry_exhausted")}
    assert set(outcomes) <= clean, outcomes
    posted_count = outcomes[(201, "")]
    assert posted_count <= 14, outcomes
    if not outcomes[(503, "concurrency_retry_exhausted")]:
        assert posted_count == 14, outcomes
    assert posted(server, drawn) == f"{100 - 7 * posted_count}.00"
    assert posted(server, filled) == f"{7 * posted_count}.00"
    lines = server.get(f"/v1/accounts/{filled}/statement").json()["data"]
    assert len(lines) == posted_count
    assert lines[-1]["running_balance"] == money(f"{7 * posted_count}.00")

    # A retry of a request that posted replays it; it does not post again.
    key = next(key for status, _, key in results if status == 201)
    replay = server.post("/v1/transactions", transfer(drawn, filled, "7.00"), key=key)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert posted(server, filled) == f"{7 * posted_count}.00"


def test_concurrent_retries_of_one_request_post_it_once(server: Server) -> None:
    """8 threads send the same request with the same Idempotency-Key at once."""
    source = settlement(server)
    wallet = open_account(server)["id"]
    key, body = new_key(), transfer(source, wallet, "10.00")
    start = Barrier(8)

    def worker(_: int) -> tuple[int, str | None, str]:
        start.wait()
        response = server.post("/v1/transactions", body, key=key)
        payload = response.json()
        return (
            response.status_code,
            response.headers.get("Idempotent-Replayed"),
            payload.get("id") or payload["code"],
        )

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(8)))

    fresh = [r for r in results if r[0] == 201 and r[1] is None]
    replayed = [r for r in results if r[0] == 201 and r[1] == "true"]
    in_flight = [r for r in results if r == (409, None, "idempotency_in_flight")]
    assert len(fresh) == 1, results
    assert len(fresh) + len(replayed) + len(in_flight) == 8, results
    assert {r[2] for r in replayed} <= {fresh[0][2]}
    assert posted(server, wallet) == "10.00"


def test_remittances_from_many_clients_never_pass_the_partners_cap(server: Server) -> None:
    """Twelve clients, two gunicorn workers: each quotes and reserves a 10,000.00 RUB
    remittance at once against a cap that holds five; five are reserved, seven are
    insufficient_liquidity; the five are paid out and the position adds up."""
    customers = server.get("/v1/customers?external_id=e2e-b").json()["data"]
    beneficiary = customers[0]["id"]
    start = Barrier(12)

    def sender(number: int) -> tuple[int, str]:
        quote = server.post(
            "/v1/quotes", {"corridor": "RU-RUB-TJ-TJS", "send_amount": money("10000.00")}
        )
        assert quote.status_code == 201, quote.text
        start.wait()
        response = server.post(
            "/v1/remittances",
            {
                "partner_reference": f"E2E-{number}",
                "corridor": "RU-RUB-TJ-TJS",
                "sender": {"name": "Rustam Karimov", "country": "RU"},
                "beneficiary": {"customer_id": beneficiary},
                "quote_id": quote.json()["id"],
            },
            key=new_key(),
        )
        body = response.json()
        return response.status_code, body.get("id") or body["code"]

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(sender, range(12)))
    reserved = [ident for status, ident in results if status == 201]
    assert len(reserved) == 5, results
    assert sorted(results)[5:] == [(422, "insufficient_liquidity")] * 7, results
    for remittance_id in reserved:
        done = server.post(f"/v1/remittances/{remittance_id}/complete", None, key=new_key())
        assert done.json()["status"] == "completed", done.text
    (position,) = server.get("/v1/liquidity").json()["data"]
    assert (position["posted"], position["headroom"]) == (money("-50750.00"), money("0.00"))
