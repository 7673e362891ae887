"""Who may call the service: principals (admin, partner, fund manager), their API
keys, and the record of idempotent requests.

Keys are random (32 bytes of ``secrets``), shown once, stored only as a SHA-256
hash and compared in constant time. SHA-256 without salt or stretching is right
here: the secret has 256 bits of entropy, so a dictionary or brute-force attack on
a leaked hash is hopeless, and verification stays cheap on every request.
"""

from ledger.access.keys import (
    IssuedKey,
    KeyRecord,
    authenticate,
    issue_key,
    list_keys,
    revoke_key,
)
from ledger.access.principals import (
    ROLES,
    PrincipalRecord,
    create_principal,
    get_principal,
    get_principal_by_slug,
    list_principals,
)

__all__ = [
    "ROLES",
    "IssuedKey",
    "KeyRecord",
    "PrincipalRecord",
    "authenticate",
    "create_principal",
    "get_principal",
    "get_principal_by_slug",
    "issue_key",
    "list_keys",
    "list_principals",
    "revoke_key",
]
