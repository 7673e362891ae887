"""The webhook worker as its own process (``ledger-integrations deliver-webhooks``) on
PostgreSQL, killed with SIGKILL in the middle of a delivery (its POST sent, no answer
yet) and started again: the delivery is not lost (the new process sends it once its
predecessor's lease runs out) and not doubled in the books (delivered once, one
attempt recorded; the receiver saw the same event id twice and keeps one)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from ledger.events.endpoints import attempts_of, list_deliveries, register_endpoint
from tests.remittance_support import build_world, complete, reserve
from tests.webhook_support import receiver

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / ".venv" / "bin" / "ledger-integrations"


def start_worker(url: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "WEBHOOK_POLL_SECONDS": "1",
        "WEBHOOK_LEASE_SECONDS": "3",
        "WEBHOOK_ALLOW_PRIVATE_URLS": "1",  # the receiver is on 127.0.0.1
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(WORKER), "deliver-webhooks"], cwd=ROOT, env=env, stdout=out, stderr=out
        )


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_worker_killed_mid_delivery_loses_nothing_and_doubles_nothing(
    postgres_database, clock, tmp_path
):
    world = build_world(postgres_database, clock)
    url = postgres_database.engine.url.render_as_string(hide_password=False)
    log = tmp_path / "worker.log"
    with receiver() as server:
        server.hold_first = 30  # the first POST gets no answer while the worker lives
        world.run(
            lambda c: register_endpoint(
                c, world.partner.id, url=server.url, event_types=["*"], now=clock.now()
            )
        )
        complete(world, reserve(world, world.explicit("R-1")).id)
        first = start_worker(url, log)
        try:
            assert wait_for(lambda: len(server.received) == 1, 20), log.read_text()
            first.send_signal(signal.SIGKILL)  # mid-delivery: sent, not answered
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        rows, _ = world.run(lambda c: list_deliveries(c, world.partner.id, limit=10))
        assert [(r.status, r.attempts) for r in rows] == [("pending", 0)]
        second = start_worker(url, log)
        try:

            def delivered() -> bool:
                found, _ = world.run(lambda c: list_deliveries(c, world.partner.id, limit=10))
                return found[0].status == "delivered"

            assert wait_for(delivered, 30), log.read_text()
        finally:
            second.terminate()
            second.wait(timeout=10)
    rows, _ = world.run(lambda c: list_deliveries(c, world.partner.id, limit=10))
    (row,) = rows
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 200)
    assert [a.status_code for a in world.run(lambda c: attempts_of(c, row.id))] == [200]
    assert len(server.received) == 2 and len(set(server.event_ids())) == 1
