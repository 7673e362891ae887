"""Webhooks to partners on both databases: events written with the change they announce
(and not for a rolled-back one), delivered to a real HTTP server on localhost with
valid signatures, retried with back-off until it answers, a worker dying mid-delivery
loses nothing, an endpoint that keeps failing is disabled, deliveries replay; two
workers on PostgreSQL never send the same delivery twice."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from integrations.webhooks import delivery
from integrations.webhooks.delivery import claim, deliver_due, http_sender, public_only, renew
from ledger.events.endpoints import (
    attempts_of,
    get_endpoint,
    list_deliveries,
    register_endpoint,
    replay_delivery,
    set_endpoint_status,
)
from ledger.events.outbox import deliveries, events
from ledger.jobs.daily import run_day
from ledger.jobs.simulation import morning_after
from ledger.remittance.remittances import complete_remittance
from tests.credit_support import build_credit_world
from tests.remittance_support import build_world, complete, reserve
from tests.webhook_support import receiver


@pytest.fixture
def world(database, clock):
    return build_world(database, clock)


def subscribe(world, url, event_types=("*",), principal=None):
    holder = principal or world.partner
    return world.run(
        lambda c: register_endpoint(
            c, holder.id, url=url, event_types=list(event_types), now=world.clock.now()
        )
    )


def count(world, table) -> int:
    return world.run(lambda c: c.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_completion_announces_itself_and_a_rolled_back_one_does_not(world):
    subscribe(world, "https://partner.example/hooks", ["remittance.completed"])
    first = reserve(world, world.explicit("R-1"))
    complete(world, first.id)
    (event,) = world.run(lambda c: c.execute(select(events)).all())
    assert (event.type, event.data["remittance_id"]) == ("remittance.completed", str(first.id))
    assert event.data["receive_amount"] == {"amount": "1187.23", "currency": "TJS"}
    assert count(world, deliveries) == 1
    second = reserve(world, world.explicit("R-2"))

    def completes_then_fails(connection):
        complete_remittance(connection, world.partner.id, second.id, now=world.clock.now())
        raise RuntimeError("the process died before the commit")

    with pytest.raises(RuntimeError):
        world.run(completes_then_fails)
    assert (count(world, events), count(world, deliveries)) == (1, 1)


def test_only_subscribed_endpoints_of_the_events_principal_hear_it(world):
    subscribe(world, "https://partner.example/expired", ["remittance.expired"])
    subscribe(world, "https://other.example/all", ["*"], principal=world.other)
    complete(world, reserve(world, world.explicit("R-1")).id)
    assert count(world, events) == 1 and count(world, deliveries) == 0


def test_a_delivery_is_signed_and_retried_with_back_off_until_it_is_taken(world):
    with receiver(now=world.clock.now) as server:
        server.statuses = [500, 503]
        _endpoint, server.secret = subscribe(world, server.url)
        complete(world, reserve(world, world.explicit("R-1")).id)
        database = world.database
        assert deliver_due(database, now=world.clock.now) == {
            "delivered": 0,
            "pending": 1,
            "failed": 0,
        }
        # Not due again before the back-off (30 s after the first failure).
        world.clock.advance(timedelta(seconds=29))
        assert deliver_due(database, now=world.clock.now)["pending"] == 0
        world.clock.advance(timedelta(seconds=1))
        assert deliver_due(database, now=world.clock.now)["pending"] == 1
        world.clock.advance(timedelta(seconds=60))  # then 60 s
        assert deliver_due(database, now=world.clock.now)["delivered"] == 1
        assert [r["status"] for r in server.received] == [500, 503, 200]
        assert all(r["signed"] for r in server.received)
        assert len(set(server.event_ids())) == 1
        body = json.loads(server.received[-1]["body"])
        assert body["type"] == "remittance.completed" and body["id"] == server.event_ids()[0]
    rows, _ = world.run(lambda c: list_deliveries(c, world.partner.id, limit=10))
    (row,) = rows
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 3, 200)
    log = world.run(lambda c: attempts_of(c, row.id))
    assert [(a.number, a.status_code) for a in log] == [(1, 500), (2, 503), (3, 200)]


def test_a_wrong_secret_or_an_old_timestamp_fails_the_receivers_check(world):
    with receiver(now=world.clock.now) as server:
        _, secret = subscribe(world, server.url)
        server.secret = secret + "x"
        complete(world, reserve(world, world.explicit("R-1")).id)
        deliver_due(world.database, now=world.clock.now)
        assert server.received[0]["signed"] is False
    with receiver(now=lambda: world.clock.now() + timedelta(minutes=6)) as late:
        _, late.secret = subscribe(world, late.url)
        complete(world, reserve(world, world.explicit("R-2")).id)
        deliver_due(world.database, now=world.clock.now)
        assert late.received[-1]["signed"] is False  # signed 6 minutes before it is checked


def test_a_worker_dying_after_its_claim_loses_nothing(world):
    with receiver() as server:
        subscribe(world, server.url)
        complete(world, reserve(world, world.explicit("R-1")).id)
        (claimed,) = world.run(lambda c: claim(c, now=world.clock.now()))  # then it died
        assert deliver_due(world.database, now=world.clock.now)["delivered"] == 0  # leased
        world.clock.advance(delivery.LEASE)
        assert deliver_due(world.database, now=world.clock.now)["delivered"] == 1
        assert server.event_ids() == [str(claimed.event_id)]


def test_a_worker_dying_after_sending_sends_the_same_event_again_once(world):
    with receiver() as server:
        subscribe(world, server.url)
        complete(world, reserve(world, world.explicit("R-1")).id)

        def sends_then_dies(url, body, headers):
            http_sender(url, body, headers)
            raise SystemExit("killed before recording")

        with pytest.raises(SystemExit):
            deliver_due(world.database, now=world.clock.now, sender=sends_then_dies)
        world.clock.advance(delivery.LEASE)
        assert deliver_due(world.database, now=world.clock.now)["delivered"] == 1
        assert deliver_due(world.database, now=world.clock.now)["delivered"] == 0
        # Twice on the wire, with one event id: the receiver keeps one.
        assert len(server.received) == 2 and len(set(server.event_ids())) == 1
    rows, _ = world.run(lambda c: list_deliveries(c, world.partner.id, limit=10))
    assert [(r.status, r.attempts) for r in rows] == [("delivered", 1)]


def test_an_endpoint_that_keeps_failing_is_disabled_and_can_be_enabled(world, monkeypatch):
    monkeypatch.setattr(delivery, "ATTEMPTS_MAX", 2)
    monkeypatch.setattr(delivery, "ENDPOINT_FAILURES_MAX", 1)
    with receiver() as server:
        server.statuses = [500] * 10
        endpoint, _ = subscribe(world, server.url)
        complete(world, reserve(world, world.explicit("R-1")).id)
        deliver_due(world.database, now=world.clock.now)
        world.clock.advance(timedelta(minutes=1))
        assert deliver_due(world.database, now=world.clock.now)["failed"] == 1
        rows, _ = world.run(lambda c: list_deliveries(c, world.partner.id, limit=10))
        assert rows[0].status == "failed"
        assert world.run(lambda c: get_endpoint(c, endpoint.id)).status == "disabled"
        # Events meanwhile are kept, not delivered to a disabled endpoint.
        complete(world, reserve(world, world.explicit("R-2")).id)
        assert count(world, deliveries) == 1
        enabled = world.run(
            lambda c: set_endpoint_status(
                c, world.partner.id, endpoint.id, enabled=True, now=world.clock.now()
            )
        )
        assert (enabled.status, enabled.consecutive_failures) == ("enabled", 0)
        server.statuses = []
        world.run(lambda c: replay_delivery(c, world.partner.id, rows[0].id, now=world.clock.now()))
        assert deliver_due(world.database, now=world.clock.now)["delivered"] == 1


def test_credit_events_reach_the_partner_and_the_fund_manager(database, clock):
    credit = build_credit_world(database, clock)
    world = credit.remit
    subscribe(world, "https://partner.example/hooks")
    subscribe(world, "https://fund.example/hooks", principal=credit.manager)
    loan = credit.loan(300_000, 12)
    credit.repay(loan.id, 10_000, "P-1")
    types = world.run(
        lambda c: [
            (row.type, row.principal_id)
            for row in c.execute(select(events).order_by(events.c.id)).all()
        ]
    )
    assert ("loan.application.decided", world.partner.id) in types
    assert ("loan.disbursed", world.partner.id) in types
    assert ("loan.repayment.received", world.partner.id) in types
    # No loan event went to the manager; the funding before the endpoints existed did
    # not fan out, but its events are on record.
    assert ("scheme.contribution.received", credit.manager.id) in types
    # Late: the delinquency job announces the loan overdue once, the day it becomes so.
    first_due = credit.standing(loan.id).installments[0].due_date
    for day in (first_due, first_due + timedelta(days=1), first_due + timedelta(days=2)):
        run_day(database, day, now=morning_after(day))
    announced = world.run(lambda c: c.execute(select(events.c.type)).scalars().all())
    assert announced.count("loan.overdue") == 1


def test_two_workers_never_send_one_delivery_twice(postgres_database, clock):
    world = build_world(postgres_database, clock)
    with receiver() as server:
        subscribe(world, server.url)
        for n in range(30):
            complete(world, reserve(world, world.explicit(f"R-{n}", amount="100.00")).id)
        barrier = threading.Barrier(2)

        def worker() -> None:
            barrier.wait()
            for _ in range(5):
                deliver_due(postgres_database, now=world.clock.now, limit=4)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        deliver_due(postgres_database, now=world.clock.now)
        assert len(server.received) == 30 == len(set(server.event_ids()))
    rows, _ = world.run(lambda c: list_deliveries(c, world.partner.id, limit=100))
    assert {(r.status, r.attempts) for r in rows} == {("delivered", 1)}


def test_a_network_error_is_an_attempt_not_an_exception(world):
    subscribe(world, "http://127.0.0.1:9/closed")  # nothing listens on the discard port
    complete(world, reserve(world, world.explicit("R-1")).id)
    assert deliver_due(world.database, now=world.clock.now)["pending"] == 1
    rows, _ = world.run(lambda c: list_deliveries(c, world.partner.id, limit=10))
    assert rows[0].last_status_code is None and "ConnectionError" in rows[0].last_error


def test_deliveries_to_this_services_own_network_are_refused(world):
    """The worker's sender (public_only) will not call loopback, private or link-local
    addresses a partner registered; the attempt says why and the receiver gets nothing."""
    with receiver() as server:
        subscribe(world, server.url)
        complete(world, reserve(world, world.explicit("R-1")).id)
        outcome = deliver_due(world.database, now=world.clock.now, sender=public_only(http_sender))
        assert outcome["pending"] == 1 and server.received == []
    rows, _ = world.run(lambda c: list_deliveries(c, world.partner.id, limit=10))
    assert rows[0].last_error.startswith("refused: 127.0.0.1 resolves to non-public address")
    for url in ("http://169.254.169.254/latest", "http://10.0.0.7/x", "http://[::1]:9/x"):
        assert public_only(http_sender)(url, b"{}", {}).error.startswith("refused")


def test_a_redirect_is_not_followed(world):
    with receiver() as target, receiver() as server:
        server.statuses = [307]  # 307 would keep the POST and its body
        server.location = target.url
        subscribe(world, server.url)
        complete(world, reserve(world, world.explicit("R-1")).id)
        assert deliver_due(world.database, now=world.clock.now)["pending"] == 1
        assert target.received == []


def test_urls_parsers_disagree_on_are_refused_and_unresolvable_hosts_too(world):
    """``http://127.0.0.1:9\\@example.com/``: urlsplit sees example.com, urllib3
    connects to 127.0.0.1. Refused at registration; and the sender checks the host
    urllib3 will use, refusing a name that does not resolve."""
    from ledger.errors import ValidationFailed

    for url in ("http://127.0.0.1:9\\@example.com/", "http://user:pw@example.com/", "http://a b/"):
        with pytest.raises(ValidationFailed):
            subscribe(world, url)
    send = public_only(http_sender)
    assert send("http://127.0.0.1:9\\@example.com/", b"{}", {}).error.startswith(
        "refused: 127.0.0.1 resolves to non-public address"
    )
    assert send("http://no-such-host.invalid/", b"{}", {}).error.startswith(
        "refused: no-such-host.invalid does not resolve"
    )


def test_a_batch_item_whose_lease_ran_out_is_left_to_the_worker_that_took_it(world):
    with receiver():
        subscribe(world, "https://partner.example/hooks")
        complete(world, reserve(world, world.explicit("R-1")).id)
        (mine,) = world.run(lambda c: claim(c, now=world.clock.now()))
        world.clock.advance(delivery.LEASE)  # slow sends earlier in my batch
        (theirs,) = world.run(lambda c: claim(c, now=world.clock.now()))
        now = world.clock.now()
        assert world.run(lambda c: renew(c, mine, now=now, lease=delivery.LEASE)) is None
        assert world.run(lambda c: renew(c, theirs, now=now, lease=delivery.LEASE)) is not None
