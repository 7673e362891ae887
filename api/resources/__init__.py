"""One module per resource: its blueprint, its schemas, its handlers."""

from __future__ import annotations

import uuid

import flask_smorest
from webargs.flaskparser import FlaskParser

from api.errors import ApiProblem


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, with unknown arguments refused everywhere.

    webargs ignores unknown query parameters by default; for a financial API a
    misspelt filter (``?stauts=pending``) must not silently widen a listing, so the
    parser defers to each schema's ``unknown`` (BaseSchema: RAISE) in every location.
    """

    ARGUMENTS_PARSER = FlaskParser(unknown=None)


def parse_uuid(value: str, what: str, error_code: str) -> uuid.UUID:
    """A path or cursor id. A malformed id is answered like a missing one (404),
    so probing reveals nothing; cursors say ``invalid_cursor`` instead."""
    try:
        return uuid.UUID(value)
    except ValueError:
        if error_code == "invalid_cursor":
            raise ApiProblem(422, "invalid_cursor", f"{what} is not a valid cursor") from None
        raise ApiProblem(404, error_code, f"{what} {value!r} does not exist") from None


def parse_cursor_uuid(value: str | None) -> uuid.UUID | None:
    return None if value is None else parse_uuid(value, "starting_after", "invalid_cursor")


#: Largest integer id (accounts): ids are signed 64-bit in both databases.
ID_MAX = 2**63 - 1


def is_id(value: str) -> bool:
    """ASCII digits within 64 bits. ``str.isdigit`` alone also takes a superscript
    two (which ``int`` refuses) and Arabic-Indic digits (which ``int`` reads)."""
    return value.isascii() and value.isdigit() and len(value) <= 19 and int(value) <= ID_MAX


def parse_cursor_int(value: str | None) -> int | None:
    if value is None:
        return None
    if not is_id(value):
        raise ApiProblem(422, "invalid_cursor", "starting_after is not a valid cursor")
    return int(value)
