"""Operations on teams, members, API keys and flags."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from evalloop.lib import keys
from evalloop.lib.locking import lock_or_404
from evalloop.teams import links
from evalloop.teams.flags import CATALOGUE
from evalloop.teams.models import ApiKey, Flag, Membership, Team, User
from evalloop.teams.permissions import Role

logger = logging.getLogger(__name__)

# Writing last_used_at on every request would turn every API read into a write.
LAST_USED_RESOLUTION_SECONDS = 60


class TeamError(ValueError):
    """A request that breaks a team rule (e.g. removing the last owner)."""


def normalize_email(email: str) -> str:
    """Answer `email` as it is stored (in lower case), or raise if that is no valid address.

    Lower case can lengthen or change an address ("İ" becomes two characters), so the stored
    form is checked again, not only what was typed.
    """
    stored = email.strip().lower()
    limit = User._meta.get_field("email").max_length
    if limit is not None and len(stored) > limit:
        raise ValidationError(
            {
                "email": f"This address is too long: {len(stored)} characters in lower case, "
                f"as addresses are stored; at most {limit}."
            }
        )
    try:
        validate_email(stored)
    except ValidationError:
        raise ValidationError(
            {
                "email": f"This address is not valid in lower case, as addresses are stored: "
                f"{stored}."
            }
        ) from None
    return stored


def create_user(*, email: str, password: str, name: str = "") -> User:
    email = normalize_email(email)
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": "A user with this e-mail address already exists."})
    candidate = User(email=email, name=name)
    validate_password(password, user=candidate)
    return User.objects.create_user(email, password, name=name)


@transaction.atomic
def create_team(*, slug: str, name: str, owner: User) -> Team:
    if Team.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A team with the slug {slug!r} already exists."})
    team = Team.objects.create(slug=slug, name=name)
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    for flag in CATALOGUE.values():
        if flag.on_for_new_teams:
            Flag.objects.get_or_create(name=flag.name)[0].teams.add(team)
    return team


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})


@transaction.atomic
def add_member(*, team: Team, email: str, role: str) -> Membership:
    """Add the user with `email` to `team`; a new address gets an account with no password."""
    _check_role(role)
    user = _user_for(normalize_email(email))
    if Membership.objects.filter(team=team, user=user).exists():
        raise ValidationError({"email": f"{user.email} is already a member of this team."})
    try:
        with transaction.atomic():  # a savepoint: a racing twin leaves this transaction usable
            return Membership.objects.create(team=team, user=user, role=role)
    except IntegrityError:
        raise ValidationError(
            {"email": f"{user.email} is already a member of this team."}
        ) from None


def _user_for(email: str) -> User:
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user
    try:
        with transaction.atomic():
            return User.objects.create_user(email, None)  # no usable password until a link
    except IntegrityError:  # another request created it meanwhile
        return User.objects.get(email=email)


def may_have_password_link(membership: Membership) -> bool:
    """Whether admins of the member's team may make them a set-password link.

    Only for an account with no password yet that belongs to this team alone: otherwise the
    admins of one team could take over an account another team relies on.
    """
    user = membership.user
    others = Membership.objects.filter(user=user).exclude(team_id=membership.team_id)
    return user.is_active and not user.has_usable_password() and not others.exists()


@transaction.atomic
def make_password_link(*, membership: Membership) -> str:
    """Answer a token for a one-time set-password link; links made before stop working."""
    if not may_have_password_link(membership):
        raise TeamError(
            f"{membership.user.email} has set a password already or belongs to another team "
            "too, so no set-password link can be made here; they log in with their password."
        )
    user = membership.user
    user.set_unusable_password()  # a fresh one: older links' fingerprints no longer match
    user.save(update_fields=["password"])
    return links.make_token(user, team=membership.team)


def email_password_link(*, membership: Membership, url: str) -> bool | None:
    """E-mail the link to the member: True when sent, False when sending failed, None when
    no SMTP server is set (EMAIL_HOST) and nothing was tried."""
    if not settings.EMAIL_HOST:
        return None
    team = membership.team
    body = (
        f"You have been added to the team {team.name} on evalloop.\n\n"
        f"Set your password here (the link works once, for {links.MAX_AGE.days} days):\n"
        f"{url}\n"
    )
    subject = f"Set your evalloop password for {team.name}"
    try:
        send_mail(subject, body, None, [membership.user.email])
    except (OSError, smtplib.SMTPException):
        logger.warning("The set-password link for %s could not be e-mailed.", membership.user)
        return False
    return True


def _other_owners(membership: Membership) -> bool:
    return (
        Membership.objects.select_for_update()
        .filter(team=membership.team, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    )


@transaction.atomic
def change_role(*, membership: Membership, role: str) -> Membership:
    _check_role(role)
    lock_or_404(membership)
    if membership.role == Role.OWNER and role != Role.OWNER and not _other_owners(membership):
        raise TeamError("The team's last owner cannot be demoted.")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(*, membership: Membership) -> None:
    if membership.role == Role.OWNER and not _other_owners(membership):
        raise TeamError("The team's last owner cannot be removed.")
    membership.delete()


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    plaintext: str


def create_api_key(
    *, team: Team, name: str, role: str = Role.EDITOR, created_by: User | None = None
) -> IssuedKey:
    _check_role(role)
    new = keys.generate()
    api_key = ApiKey.objects.create(
        team=team, name=name, role=role, prefix=new.prefix, digest=new.digest, created_by=created_by
    )
    return IssuedKey(api_key=api_key, plaintext=new.plaintext)


def revoke_api_key(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def authenticate_api_key(plaintext: str) -> ApiKey | None:
    """Answer the active key `plaintext` stands for, recording its use, or None."""
    parts = keys.split(plaintext)
    if parts is None:
        return None
    prefix, secret = parts
    api_key = ApiKey.objects.active().select_related("team").filter(prefix=prefix).first()
    if api_key is None or not keys.matches(secret, api_key.digest):
        return None
    now = timezone.now()
    stale = now - timedelta(seconds=LAST_USED_RESOLUTION_SECONDS)
    if api_key.last_used_at is None or api_key.last_used_at < stale:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


@transaction.atomic
def set_team_flag(*, team: Team, name: str, active: bool) -> None:
    if name not in CATALOGUE:
        raise ValidationError({"name": f"Unknown flag {name!r}."})
    flag, _ = Flag.objects.get_or_create(name=name)
    if active:
        flag.teams.add(team)
    else:
        flag.teams.remove(team)
    flag.flush()
