"""One-time links to set a password, for accounts an admin created by e-mail address.

A link carries a signed token: the user's id, the team whose admin made it, the time it was
made, and a fingerprint of the user's password field. Setting a password changes that field,
and so does making a newer link (a fresh unusable password), so a link works once and only the
newest one works. It works only while the account belongs to that team alone: once another
team relies on the account, the first team's admins, who hold the link, must not be able to
take it over.
"""

from __future__ import annotations

from datetime import timedelta

from django.core import signing
from django.utils.crypto import salted_hmac

from evalloop.teams.models import Membership, Team, User

SALT = "evalloop.teams.links.set-password"
MAX_AGE = timedelta(days=3)

EXPIRED = (
    f"This link has expired: links to set a password work for {MAX_AGE.days} days. "
    "Ask an admin of your team for a new one."
)
USED = (
    "This link has been used already, or a newer link replaced it. If you set your password, "
    "log in with it; otherwise ask an admin of your team for a new link."
)
GARBLED = (
    "This link is not a valid set-password link: it may have been cut short or changed "
    "when it was copied. Copy the whole link again, or ask an admin of your team for a new one."
)

REMOVED = (
    "This link no longer works: the account is no longer a member of the team whose admin "
    "made it. Ask an admin of your team for a new one."
)
SHARED = (
    "This link no longer works: the account now belongs to another team too, and a link "
    "from one team cannot set the password of an account other teams rely on. Ask the "
    "person who runs evalloop to set your password."
)


class BadLink(Exception):
    """A set-password link that cannot be used; the message says why, for the person."""


def _fingerprint(user: User) -> str:
    return salted_hmac(SALT, user.password).hexdigest()[:20]


def make_token(user: User, *, team: Team) -> str:
    data = {"user": user.pk, "team": team.pk, "password": _fingerprint(user)}
    return signing.dumps(data, salt=SALT)


def _check_teams(user: User, team_id: object) -> None:
    teams = set(Membership.objects.filter(user=user).values_list("team_id", flat=True))
    if team_id not in teams:
        raise BadLink(REMOVED)
    if len(teams) > 1:
        raise BadLink(SHARED)


def user_for_token(token: str, *, lock: bool = False) -> User:
    """Answer the user a token was made for, or raise BadLink saying why it cannot be used.

    With `lock`, inside a transaction, the user's row stays locked until it ends, so that one
    link cannot set a password twice.
    """
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise BadLink(EXPIRED) from None
    except signing.BadSignature:
        raise BadLink(GARBLED) from None
    users = User.objects.select_for_update() if lock else User.objects.all()
    user = users.filter(pk=data["user"], is_active=True).first()
    if user is None:
        raise BadLink(GARBLED)
    if user.has_usable_password() or data["password"] != _fingerprint(user):
        raise BadLink(USED)
    _check_teams(user, data.get("team"))
    return user
