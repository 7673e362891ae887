"""A local stand-in for Stripe's servers, behind the SDK's own ``HTTPClient`` interface.

The service's code runs unchanged (``stripe.StripeClient`` builds the requests,
parses the answers, raises its errors); only the bytes that would have crossed the
network come from here. The fake keeps Stripe-shaped objects (PaymentIntents,
charges, balance transactions, refunds, disputes, payouts), honours idempotency keys,
``expand``, list filters and pagination as the SDK sends them, and makes the events
Stripe would send, signed with the SDK's own ``WebhookSignature`` helper.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

DAY = 86_400


def decode(encoded: str | None) -> dict[str, Any]:
    """Stripe's form encoding (``a[b]=1``, ``expand[0]=x``) back into nested values."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(encoded or "", keep_blank_values=True):
        names = re.findall(r"[^\[\]]+", key)
        target = result
        for name, following in itertools.pairwise(names):
            target = target.setdefault(name, [] if following.isdigit() else {})
            if isinstance(target, list):
                break
        last = names[-1]
        if isinstance(target, list):
            target.append(value)
        else:
            target[last] = value
    return result


class FakeStripe(stripe.HTTPClient):
    name = "fake-stripe"

    def __init__(self, now: Callable[[], datetime]) -> None:
        super().__init__()
        self.now = now
        self.objects: dict[str, dict[str, Any]] = {}
        self.idempotent: dict[str, str] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.down = False
        self._ids = itertools.count(1)

    # ------------------------------------------------------------ the wire

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        parts = urlsplit(url)
        params = decode(parts.query if method == "get" else post_data)
        self.calls.append((method.upper(), parts.path, params))
        answer = {"Request-Id": f"req_{next(self._ids)}", "Stripe-Should-Retry": "false"}
        if self.down:
            error = {"error": {"type": "api_error", "message": "Stripe is down (fake)"}}
            return json.dumps(error), 500, answer
        try:
            status, body = self._route(method.upper(), parts.path, params, dict(headers or {}))
        except KeyError as missing:
            status, body = (
                404,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "resource_missing",
                        "message": f"No such object: {missing}",
                    }
                },
            )
        return json.dumps(body), status, answer

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _route(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any]:
        segments = path.strip("/").split("/")[1:]  # after "v1"
        expand = params.pop("expand", [])
        if method == "POST" and segments == ["payment_intents"]:
            key = headers.get("Idempotency-Key")
            if key and key in self.idempotent:
                return 200, self._view(self.idempotent[key], expand)
            intent = self._create_intent(params)
            if key:
                self.idempotent[key] = intent["id"]
            return 200, self._view(intent["id"], expand)
        if method == "GET" and len(segments) == 2:
            kind, object_id = segments
            found = self.objects[object_id]
            if found["object"] != kind.rstrip("s"):
                raise KeyError(object_id)
            return 200, self._view(object_id, expand)
        if method == "GET" and len(segments) == 1:
            return 200, self._list(segments[0], params, expand)
        raise KeyError(path)

    # ------------------------------------------------------------ reading

    def _view(self, object_id: str, expand: list[str]) -> dict[str, Any]:
        found = copy.deepcopy(self.objects[object_id])
        for path in expand:
            self._expand(found, path.split("."))
        return found

    def _expand(self, found: Any, path: list[str]) -> None:
        head, rest = path[0], path[1:]
        if head == "data" and isinstance(found.get("data"), list):
            for item in found["data"]:
                self._expand(item, rest)
            return
        value = found.get(head)
        if isinstance(value, str) and value in self.objects:
            found[head] = copy.deepcopy(self.objects[value])
            value = found[head]
        if rest and isinstance(value, dict):
            self._expand(value, rest)

    def _list(self, kind: str, params: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        singular = {"balance_transactions": "balance_transaction"}.get(kind, kind.rstrip("s"))
        items = [o for o in self.objects.values() if o["object"] == singular]
        for name in ("payment_intent", "payout"):
            if name in params:
                items = [o for o in items if o.get(name) == params[name]]
        if "created" in params and "gte" in params["created"]:
            items = [o for o in items if o["created"] >= int(params["created"]["gte"])]
        items.sort(key=lambda o: (o["created"], o["id"]), reverse=True)  # newest first
        if "starting_after" in params:
            ids = [o["id"] for o in items]
            items = items[ids.index(params["starting_after"]) + 1 :]
        limit = int(params.get("limit", 10))
        page = {
            "object": "list",
            "url": f"/v1/{kind}",
            "has_more": len(items) > limit,
            "data": [copy.deepcopy(o) for o in items[:limit]],
        }
        for path in expand:
            self._expand(page, path.split("."))
        return page

    # ------------------------------------------------------------ what Stripe does

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def _timestamp(self) -> int:
        return int(self.now().timestamp())

    def _create_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        object_id = self._new_id("pi")
        intent = {
            "id": object_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "status": "requires_payment_method",
            "client_secret": f"{object_id}_secret_{next(self._ids)}",
            "metadata": params.get("metadata", {}),
            "description": params.get("description"),
            "latest_charge": None,
            "created": self._timestamp(),
            "livemode": False,
        }
        self.objects[object_id] = intent
        return intent

    def _transaction(
        self,
        kind: str,
        source: str,
        amount: int,
        fee: int,
        currency: str,
        *,
        available_days: int = 2,
        category: str | None = None,
    ) -> dict[str, Any]:
        object_id = self._new_id("txn")
        created = self._timestamp()
        transaction = {
            "id": object_id,
            "object": "balance_transaction",
            "type": kind,
            "reporting_category": category or kind,
            "source": source,
            "amount": amount,
            "fee": fee,
            "net": amount - fee,
            "currency": currency,
            "created": created,
            "available_on": created + available_days * DAY,
            "status": "pending",
            "payout": None,
        }
        self.objects[object_id] = transaction
        return transaction

    def succeed(self, intent_id: str, *, fee: int | None = None) -> dict[str, Any]:
        """The payer paid; the charge's fee is 2.9% + 30 unless given."""
        intent = self.objects[intent_id]
        amount = intent["amount"]
        charge_id = self._new_id("ch")
        charged_fee = fee if fee is not None else amount * 29 // 1000 + 30
        transaction = self._transaction(
            "charge", charge_id, amount, charged_fee, intent["currency"]
        )
        self.objects[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "amount_refunded": 0,
            "currency": intent["currency"],
            "payment_intent": intent_id,
            "balance_transaction": transaction["id"],
            "refunded": False,
            "disputed": False,
            "created": self._timestamp(),
        }
        intent.update(status="succeeded", latest_charge=charge_id)
        return self.event("payment_intent.succeeded", intent_id)

    def charge_of(self, intent_id: str) -> dict[str, Any]:
        return self.objects[self.objects[intent_id]["latest_charge"]]

    def refund(self, intent_id: str, amount: int) -> dict[str, Any]:
        charge = self.charge_of(intent_id)
        refund_id = self._new_id("re")
        transaction = self._transaction(
            "refund", refund_id, -amount, 0, charge["currency"], available_days=0
        )
        self.objects[refund_id] = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "payment_intent": intent_id,
            "currency": charge["currency"],
            "status": "succeeded",
            "balance_transaction": transaction["id"],
            "failure_balance_transaction": None,
            "created": self._timestamp(),
        }
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return self.event("charge.refunded", charge["id"])

    def dispute(self, intent_id: str, *, fee: int = 1500) -> dict[str, Any]:
        """The payer's bank disputes the whole charge: Stripe withdraws it and a fee."""
        charge = self.charge_of(intent_id)
        dispute_id = self._new_id("du")
        withdrawal = self._transaction(
            "adjustment",
            dispute_id,
            -charge["amount"],
            fee,
            charge["currency"],
            available_days=0,
            category="dispute",
        )
        self.objects[dispute_id] = {
            "id": dispute_id,
            "object": "dispute",
            "amount": charge["amount"],
            "charge": charge["id"],
            "payment_intent": intent_id,
            "currency": charge["currency"],
            "status": "needs_response",
            "balance_transactions": [withdrawal],
            "created": self._timestamp(),
        }
        charge["disputed"] = True
        return self.event("charge.dispute.created", dispute_id)

    def win_dispute(self, dispute_id: str, *, fee_back: int = 0) -> dict[str, Any]:
        dispute = self.objects[dispute_id]
        reinstated = self._transaction(
            "adjustment",
            dispute_id,
            dispute["amount"],
            -fee_back,
            dispute["currency"],
            available_days=0,
            category="dispute_reversal",
        )
        dispute["balance_transactions"].append(reinstated)
        dispute["status"] = "won"
        return self.event("charge.dispute.closed", dispute_id)

    def pay_out(self, *, leave: tuple[str, ...] = (), status: str = "paid") -> dict[str, Any]:
        """Pay out every balance transaction not paid out yet (but ``leave``)."""
        due = [
            o
            for o in self.objects.values()
            if o["object"] == "balance_transaction"
            and o["payout"] is None
            and o["type"] != "payout"
            and o["id"] not in leave
        ]
        payout_id = self._new_id("po")
        amount = sum(o["net"] for o in due)
        currency = due[0]["currency"] if due else "usd"
        for item in due:
            item.update(payout=payout_id, status="available")
        own = self._transaction("payout", payout_id, -amount, 0, currency, available_days=0)
        own["payout"] = payout_id
        self.objects[payout_id] = {
            "id": payout_id,
            "object": "payout",
            "amount": amount,
            "currency": currency,
            "status": status,
            "arrival_date": self._timestamp() + DAY,
            "created": self._timestamp(),
            "balance_transaction": own["id"],
        }
        return self.event(f"payout.{status}", payout_id)

    def fail_payout(self, payout_id: str) -> dict[str, Any]:
        """The bank sent it back: Stripe puts the amount on the balance again (a
        ``payout_failure`` balance transaction, paid out with the next payout)."""
        payout = self.objects[payout_id]
        payout["status"] = "failed"
        self._transaction(
            "payout_failure", payout_id, payout["amount"], 0, payout["currency"], available_days=0
        )
        return self.event("payout.failed", payout_id)

    # ------------------------------------------------------------ events

    def event(self, type: str, object_id: str) -> dict[str, Any]:
        return {
            "id": self._new_id("evt"),
            "object": "event",
            "type": type,
            "api_version": "2025-06-30.basil",
            "created": self._timestamp(),
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": copy.deepcopy(self.objects[object_id])},
        }


def signed(
    event: dict[str, Any], secret: str, *, at: datetime, tamper: bool = False
) -> tuple[bytes, dict[str, str]]:
    """The body and headers Stripe would POST: signed with the SDK's helper."""
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        body, secret, timestamp=int(at.timestamp())
    )
    if tamper:
        body = body.replace('"livemode": false', '"livemode": true')
    return body.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}


def later(now: datetime, days: int) -> datetime:
    return now + timedelta(days=days)
