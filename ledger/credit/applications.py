"""Loan applications: submitted by a partner for its customer, scored on the customer's
remittance history, decided by the scheme's fund manager.

* **Apply**: the product's ranges, a preview of the schedule (for the installment the
  applicant would carry), the applicant's remittance history in the scheme's currency
  over the last 12 months, and whether they have a loan in arrears go into
  ``ledger.credit.scoring.score``; its decision, reasons and figures are stored with
  the application, as they were.
* **Decide**: only the scheme's fund manager (a partner never decides, least of all on
  its own application). Approval checks that the fund can lend it (cash less what is
  already committed to approved applications) and commits it; the scheme's row is
  locked meanwhile, so two approvals cannot together commit more than there is.
  Approving against a ``declined`` recommendation needs a note saying why.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ledger.access.principals import PrincipalRecord
from ledger.credit.loans import loans_in_arrears
from ledger.credit.models import LoanApplication
from ledger.credit.products import get_product
from ledger.credit.schedule import generate
from ledger.credit.schemes import SchemeRecord, fund_position, get_scheme, require_manager
from ledger.credit.scoring import score
from ledger.errors import Conflict, InsufficientFunds, NotFound, ValidationFailed
from ledger.events.outbox import emit
from ledger.ids import uuid7
from ledger.journal.validation import require_text
from ledger.limits import REASON_LENGTH_MAX
from ledger.money import from_minor
from ledger.parties.customers import get_customer
from ledger.remittance.inflows import remittance_history

applications = LoanApplication.__table__
DESCRIPTION_LENGTH_MAX = 2_000


class ApplicationNotFound(NotFound):
    code = "application_not_found"


class ApplicationNotSubmitted(Conflict):
    code = "application_not_submitted"


class InsufficientFundCash(InsufficientFunds):
    """The fund cannot lend this much now (cash less what approved applications hold)."""

    code = "insufficient_fund_cash"


@dataclass(frozen=True)
class ApplicationRecord:
    id: uuid.UUID
    partner_id: uuid.UUID
    customer_id: uuid.UUID
    scheme_id: uuid.UUID
    product_id: uuid.UUID
    principal_minor: int
    installments: int
    purpose: str
    description: str
    score_decision: str
    score: dict[str, Any]
    status: str
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    decision_note: str | None
    created_at: datetime


def application_record(row: Any) -> ApplicationRecord:
    return ApplicationRecord(
        **{name: getattr(row, name) for name in ApplicationRecord.__dataclass_fields__}
    )


def apply(
    connection: Connection,
    partner: PrincipalRecord,
    *,
    customer_id: uuid.UUID,
    scheme_id: uuid.UUID,
    product_id: uuid.UUID,
    principal_minor: int,
    installments: int,
    purpose: str,
    description: str,
    now: datetime,
) -> ApplicationRecord:
    """Submit and score an application for the partner's customer."""
    require_text(purpose, "purpose", REASON_LENGTH_MAX)
    require_text(description, "description", DESCRIPTION_LENGTH_MAX)
    get_customer(connection, partner.id, customer_id)  # the partner's own, or not found
    scheme = get_scheme(connection, scheme_id)
    product = get_product(connection, product_id, scheme.id)
    terms = product.terms
    terms.check_request(principal_minor, installments)
    today = now.date()
    preview = generate(terms.schedule, principal_minor, installments, today)
    (history,) = remittance_history(
        connection, customer_id, as_of=today, months=12, currency=scheme.currency
    )
    result = score(
        history,
        principal_minor=principal_minor,
        largest_installment_minor=preview.largest_installment_minor,
        rules=terms.scoring,
        loans_in_arrears=loans_in_arrears(connection, customer_id, as_of=today),
    )
    record = ApplicationRecord(
        id=uuid7(),
        partner_id=partner.id,
        customer_id=customer_id,
        scheme_id=scheme.id,
        product_id=product.id,
        principal_minor=principal_minor,
        installments=installments,
        purpose=purpose,
        description=description,
        score_decision=result.decision,
        score=result.as_dict(),
        status="submitted",
        decided_by=None,
        decided_at=None,
        decision_note=None,
        created_at=now,
    )
    connection.execute(insert(applications).values(**record.__dict__))
    return record


def get_application(
    connection: Connection,
    application_id: uuid.UUID,
    *,
    partner_id: uuid.UUID | None = None,
    lock: bool = False,
) -> ApplicationRecord:
    query = select(applications).where(applications.c.id == application_id)
    if partner_id is not None:
        query = query.where(applications.c.partner_id == partner_id)
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise ApplicationNotFound(
            f"loan application {application_id} does not exist",
            application_id=str(application_id),
        )
    return application_record(row)


def list_applications(
    connection: Connection,
    *,
    partner_id: uuid.UUID | None = None,
    scheme_ids: list[uuid.UUID] | None = None,
    status: str | None = None,
    limit: int,
    starting_after: uuid.UUID | None = None,
) -> tuple[list[ApplicationRecord], bool]:
    query = select(applications)
    if partner_id is not None:
        query = query.where(applications.c.partner_id == partner_id)
    if scheme_ids is not None:
        query = query.where(applications.c.scheme_id.in_(scheme_ids))
    if status is not None:
        query = query.where(applications.c.status == status)
    if starting_after is not None:
        query = query.where(applications.c.id < starting_after)
    rows = connection.execute(query.order_by(applications.c.id.desc()).limit(limit + 1)).all()
    return [application_record(r) for r in rows[:limit]], len(rows) > limit


def decide(
    connection: Connection,
    manager: PrincipalRecord,
    application_id: uuid.UUID,
    *,
    approve: bool,
    note: str | None,
    now: datetime,
) -> ApplicationRecord:
    """The fund manager's decision. Deciding the same way again returns the decision."""
    found = get_application(connection, application_id)
    scheme: SchemeRecord = get_scheme(connection, found.scheme_id, lock=True)
    require_manager(scheme, manager)
    found = get_application(connection, application_id, lock=True)
    wanted = "approved" if approve else "declined"
    if found.status == wanted or (approve and found.status == "disbursed"):
        return found
    if found.status != "submitted":
        raise ApplicationNotSubmitted(
            f"application {found.id} is {found.status}", application_status=found.status
        )
    if note is not None:
        require_text(note, "note", REASON_LENGTH_MAX)
    if approve and found.score_decision == "declined" and not note:
        raise ValidationFailed(
            "approving against a declined recommendation needs a note saying why", field="note"
        )
    if approve:
        available = fund_position(connection, scheme).available_minor
        if available < found.principal_minor:
            raise InsufficientFundCash(
                f"the fund can lend {from_minor(max(available, 0), scheme.currency)} "
                f"{scheme.currency} now; the application asks "
                f"{from_minor(found.principal_minor, scheme.currency)}",
                available_minor=available,
                principal_minor=found.principal_minor,
            )
    connection.execute(
        update(applications)
        .where(applications.c.id == found.id, applications.c.status == "submitted")
        .values(status=wanted, decided_by=manager.id, decided_at=now, decision_note=note)
    )
    emit(
        connection,
        found.partner_id,
        "loan.application.decided",
        {
            "application_id": str(found.id),
            "customer_id": str(found.customer_id),
            "scheme_id": str(found.scheme_id),
            "decision": wanted,
            "note": note,
        },
        now=now,
    )
    return ApplicationRecord(
        **{
            **found.__dict__,
            "status": wanted,
            "decided_by": manager.id,
            "decided_at": now,
            "decision_note": note,
        }
    )


def cancel_application(
    connection: Connection,
    caller: PrincipalRecord,
    application_id: uuid.UUID,
    *,
    note: str | None,
    now: datetime,
) -> ApplicationRecord:
    """Withdraw an application not yet disbursed: the partner that made it (the
    applicant changed their mind) or the scheme's manager (an approval that will not be
    paid out). An approved one releases the fund's commitment. Cancelling again returns
    the cancellation."""
    found = get_application(connection, application_id)
    scheme = get_scheme(connection, found.scheme_id, lock=True)
    if caller.role == "partner":
        if found.partner_id != caller.id:
            raise ApplicationNotFound(
                f"loan application {application_id} does not exist",
                application_id=str(application_id),
            )
    else:
        require_manager(scheme, caller)
    found = get_application(connection, application_id, lock=True)
    if found.status == "cancelled":
        return found
    if found.status not in ("submitted", "approved"):
        raise ApplicationNotSubmitted(
            f"application {found.id} is {found.status}", application_status=found.status
        )
    if note is not None:
        require_text(note, "note", REASON_LENGTH_MAX)
    connection.execute(
        update(applications)
        .where(applications.c.id == found.id)
        .values(status="cancelled", decided_by=caller.id, decided_at=now, decision_note=note)
    )
    return get_application(connection, found.id)
