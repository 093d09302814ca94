"""Operations on teams, members, API keys and flags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from evalloop.lib import keys
from evalloop.lib.locking import lock_or_404
from evalloop.teams.flags import CATALOGUE
from evalloop.teams.models import ApiKey, Flag, Membership, Team, User
from evalloop.teams.permissions import Role

# Writing last_used_at on every request would turn every API read into a write.
LAST_USED_RESOLUTION_SECONDS = 60


class TeamError(ValueError):
    """A request that breaks a team rule (e.g. removing the last owner)."""


def create_user(*, email: str, password: str, name: str = "") -> User:
    email = email.strip().lower()
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
    _check_role(role)
    user = User.objects.filter(email=email.strip().lower()).first()
    if user is None:
        raise ValidationError({"email": "No user has this e-mail address."})
    if Membership.objects.filter(team=team, user=user).exists():
        raise ValidationError({"email": f"{user.email} is already a member of this team."})
    return Membership.objects.create(team=team, user=user, role=role)


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
