"""Reference mid-rates, loaded per day and source; found for a date, never stale silently.

* A rate reads ``1 base = mid_rate quote`` (1 RUB = 0.1192 TJS), for one
  ``rate_date`` from one ``source`` (``cbr``, ``nbt``, ``demo``, ...). Rates are
  facts that quotes were priced on: loading the same value again changes nothing,
  loading another value for the same day, pair and source is refused
  (``fx_rate_conflict``), and a load is all or nothing.
* A rate is a positive decimal with at most ``RATE_DECIMALS_MAX`` places; floats
  are refused, more places are an error, never rounded.
* :func:`find_rate` takes the newest rate dated on or before the day asked, and
  refuses it (``stale_rate``) when it is older than ``max_age_days``: central
  banks publish on working days, so a Friday rate usually has to cover Saturday
  and Sunday, hence the default of 3 days (``FX_RATE_MAX_AGE_DAYS``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, insert, select, tuple_

from ledger.db import RaceConstraint, register_race_constraint
from ledger.errors import FxRateConflict, LimitExceeded, StaleRate, ValidationFailed
from ledger.limits import (
    PAGE_SIZE_MAX,
    RATE_DECIMALS_MAX,
    RATE_SOURCE_LENGTH_MAX,
    RATE_VALUE_MAX,
    RATES_PER_LOAD_MAX,
)
from ledger.money import validate_currency
from ledger.remittance.corridors import RATE_SOURCE_PATTERN
from ledger.remittance.models import FxRate

fx_rates = FxRate.__table__

#: Days a rate may be older than the day it is used for (see the module docstring).
DEFAULT_RATE_MAX_AGE_DAYS = 3

register_race_constraint(
    RaceConstraint("pk_fx_rates", "fx_rates", ("base", "quote", "source", "rate_date"))
)


@dataclass(frozen=True)
class RateInput:
    rate_date: date
    source: str
    base: str
    quote: str
    mid_rate: Decimal


@dataclass(frozen=True)
class RateRecord:
    rate_date: date
    source: str
    base: str
    quote: str
    mid_rate: Decimal
    created_at: datetime

    def age_days(self, on: date) -> int:
        return (on - self.rate_date).days


@dataclass(frozen=True)
class LoadResult:
    inserted: int
    unchanged: int


def parse_mid_rate(text: str, field: str = "mid_rate") -> Decimal:
    """A rate from its decimal text: positive, finite, at most RATE_DECIMALS_MAX places."""
    if not isinstance(text, str):
        raise ValidationFailed("a rate is a decimal string (never a float)", field=field)
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValidationFailed(f"{text!r} is not a decimal rate", field=field) from None
    return validate_mid_rate(value, field)


def validate_mid_rate(value: Decimal, field: str = "mid_rate") -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise ValidationFailed("a rate is a positive decimal", field=field)
    if value > RATE_VALUE_MAX:
        raise ValidationFailed(f"a rate is at most {RATE_VALUE_MAX}", field=field)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > RATE_DECIMALS_MAX and value != value.quantize(
        Decimal(1).scaleb(-RATE_DECIMALS_MAX)
    ):
        raise ValidationFailed(
            f"a rate has at most {RATE_DECIMALS_MAX} decimal places", field=field
        )
    return value


def validate_rate_input(rate: RateInput) -> None:
    validate_currency(rate.base)
    validate_currency(rate.quote)
    if rate.base == rate.quote:
        raise ValidationFailed("a rate converts between two currencies", field="quote")
    if len(rate.source) > RATE_SOURCE_LENGTH_MAX or not RATE_SOURCE_PATTERN.match(rate.source):
        raise ValidationFailed(
            "a rate source is lowercase letters, digits, '-' and '_'", field="source"
        )
    validate_mid_rate(rate.mid_rate)


def load_rates(connection: Connection, rates: Sequence[RateInput], *, now: datetime) -> LoadResult:
    """Store ``rates`` (all or nothing). A rate already stored with the same value is
    left as it is; with another value the whole load is refused (FxRateConflict)."""
    if not rates:
        raise ValidationFailed("no rates to load", field="rates")
    if len(rates) > RATES_PER_LOAD_MAX:
        raise LimitExceeded(f"at most {RATES_PER_LOAD_MAX} rates per load")
    wanted: dict[tuple[str, str, str, date], Decimal] = {}
    for index, rate in enumerate(rates):
        try:
            validate_rate_input(rate)
        except ValidationFailed as error:
            error.details.setdefault("index", index)
            raise
        key = (rate.base, rate.quote, rate.source, rate.rate_date)
        if key in wanted and wanted[key] != rate.mid_rate:
            raise FxRateConflict(
                f"the load gives two values for {rate.base}/{rate.quote} from {rate.source} "
                f"on {rate.rate_date}",
                index=index,
            )
        wanted[key] = rate.mid_rate
    stored: dict[tuple[str, str, str, date], Decimal] = {}
    keys = list(wanted)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = connection.execute(
            select(
                fx_rates.c.base,
                fx_rates.c.quote,
                fx_rates.c.source,
                fx_rates.c.rate_date,
                fx_rates.c.mid_rate,
            ).where(
                tuple_(
                    fx_rates.c.base, fx_rates.c.quote, fx_rates.c.source, fx_rates.c.rate_date
                ).in_(chunk)
            )
        )
        stored.update({(r.base, r.quote, r.source, r.rate_date): r.mid_rate for r in rows})
    for key, value in stored.items():
        if wanted[key] != value:
            base, quote, source, day = key
            raise FxRateConflict(
                f"{base}/{quote} from {source} on {day} is stored as {value}; rates are "
                "never overwritten (quotes were priced on them)",
                base=base,
                quote=quote,
                source=source,
                rate_date=day.isoformat(),
                stored=str(value),
            )
    new = [key for key in keys if key not in stored]
    if new:
        connection.execute(
            insert(fx_rates),
            [
                {
                    "base": base,
                    "quote": quote,
                    "source": source,
                    "rate_date": day,
                    "mid_rate": wanted[(base, quote, source, day)],
                    "created_at": now,
                }
                for base, quote, source, day in new
            ],
        )
    return LoadResult(inserted=len(new), unchanged=len(stored))


def _record(row: object) -> RateRecord:
    return RateRecord(
        row.rate_date,  # type: ignore[attr-defined]
        row.source,  # type: ignore[attr-defined]
        row.base,  # type: ignore[attr-defined]
        row.quote,  # type: ignore[attr-defined]
        row.mid_rate,  # type: ignore[attr-defined]
        row.created_at,  # type: ignore[attr-defined]
    )


def find_rate(
    connection: Connection,
    base: str,
    quote: str,
    *,
    source: str,
    on: date,
    max_age_days: int = DEFAULT_RATE_MAX_AGE_DAYS,
) -> RateRecord:
    """The newest ``base``/``quote`` rate from ``source`` dated on or before ``on``;
    StaleRate when there is none or it is more than ``max_age_days`` old."""
    row = connection.execute(
        select(fx_rates)
        .where(
            fx_rates.c.base == base,
            fx_rates.c.quote == quote,
            fx_rates.c.source == source,
            fx_rates.c.rate_date <= on,
        )
        .order_by(fx_rates.c.rate_date.desc())
        .limit(1)
    ).first()
    if row is None:
        raise StaleRate(
            f"no {base}/{quote} mid-rate from {source} on or before {on}",
            base=base,
            quote=quote,
            source=source,
            on=on.isoformat(),
            newest_rate_date=None,
        )
    record = _record(row)
    if record.age_days(on) > max_age_days:
        raise StaleRate(
            f"the newest {base}/{quote} mid-rate from {source} is of {record.rate_date}, "
            f"{record.age_days(on)} days before {on} (at most {max_age_days} allowed)",
            base=base,
            quote=quote,
            source=source,
            on=on.isoformat(),
            newest_rate_date=record.rate_date.isoformat(),
            max_age_days=max_age_days,
        )
    return record


def list_rates(
    connection: Connection,
    *,
    base: str | None = None,
    quote: str | None = None,
    source: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int,
) -> list[RateRecord]:
    """Newest day first, then by pair and source; at most ``limit``."""
    assert 1 <= limit <= PAGE_SIZE_MAX
    query = select(fx_rates)
    for column, value in (
        (fx_rates.c.base, base),
        (fx_rates.c.quote, quote),
        (fx_rates.c.source, source),
    ):
        if value is not None:
            query = query.where(column == value)
    if date_from is not None:
        query = query.where(fx_rates.c.rate_date >= date_from)
    if date_to is not None:
        query = query.where(fx_rates.c.rate_date <= date_to)
    query = query.order_by(
        fx_rates.c.rate_date.desc(), fx_rates.c.base, fx_rates.c.quote, fx_rates.c.source
    ).limit(limit)
    return [_record(row) for row in connection.execute(query)]


# ------------------------------------------------------------------- CSV input

RATES_CSV_COLUMNS = ("date", "source", "base", "quote", "mid_rate")


class RatesFileInvalid(ValidationFailed):
    """A rates file with bad lines; ``errors`` lists each by line number."""

    code = "invalid_rates_file"


def parse_rates_csv(text: str) -> list[RateInput]:
    """Rates from CSV text with the header ``date,source,base,quote,mid_rate``.

    Every line is checked; if any is bad, RatesFileInvalid lists them all (line
    numbers count the header as line 1) and nothing is loaded.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if header != RATES_CSV_COLUMNS:
        raise RatesFileInvalid(
            f"the header must be {','.join(RATES_CSV_COLUMNS)}, not {','.join(header)}",
            errors=[],
        )
    rates: list[RateInput] = []
    errors: list[dict[str, object]] = []
    for line, row in enumerate(reader, start=2):
        try:
            if None in row or any(value is None for value in row.values()):
                raise ValidationFailed("the line does not have five fields")
            rate = RateInput(
                rate_date=_parse_date(row["date"]),
                source=row["source"].strip(),
                base=row["base"].strip(),
                quote=row["quote"].strip(),
                mid_rate=parse_mid_rate(row["mid_rate"]),
            )
            validate_rate_input(rate)
        except ValidationFailed as error:
            errors.append({"line": line, "code": error.code, "message": error.message})
            continue
        rates.append(rate)
    if errors:
        raise RatesFileInvalid(f"{len(errors)} bad line(s) in the rates file", errors=errors)
    return rates


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(f"{text!r} is not a date (YYYY-MM-DD)", field="date") from None
