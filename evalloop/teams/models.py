from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from waffle.models import AbstractUserFlag

from evalloop.teams.permissions import Role

if TYPE_CHECKING:
    from django.http import HttpRequest


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """A person who logs in with an e-mail address."""

    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name or self.email.split("@")[0]


class TeamQuerySet(models.QuerySet["Team"]):
    def for_user(self, user: Any) -> TeamQuerySet:
        return self.filter(memberships__user=user).order_by("name")


class Team(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TeamQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(models.QuerySet["Membership"]):
    def for_team(self, team: Team) -> MembershipQuerySet:
        return self.filter(team=team)

    def by_rank(self) -> MembershipQuerySet:
        """Owners first, then admins, editors, viewers; by e-mail within a role."""
        rank = models.Case(
            *(models.When(role=role, then=index) for index, role in enumerate(Role.values)),
            default=len(Role.values),
        )
        return self.select_related("user").order_by(rank, "user__email")


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def for_team(self, team: Team) -> ApiKeyQuerySet:
        return self.filter(team=team)

    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)

    def listed(self) -> ApiKeyQuerySet:
        """Active keys first, newest first, with their creators."""
        return self.select_related("created_by").order_by(
            models.F("revoked_at").asc(nulls_first=True), "-created_at", "-id"
        )


class ApiKey(models.Model):
    """A team credential: a readable prefix plus an HMAC of the secret; the secret is shown once."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Flag(AbstractUserFlag):
    """A waffle flag that can also be switched on per team."""

    teams = models.ManyToManyField(Team, blank=True, related_name="flags")

    class Meta(AbstractUserFlag.Meta):
        verbose_name = "Flag"  # type: ignore[assignment]
        verbose_name_plural = "Flags"  # type: ignore[assignment]

    def is_active_for_team(self, team: Team | None) -> bool:
        if self.everyone is not None:
            return bool(self.everyone)
        return team is not None and self.teams.filter(pk=team.pk).exists()

    def is_active(self, request: HttpRequest, read_only: bool = False) -> bool | None:
        # With a team, the team's switch decides, so waffle's per-user defaults (e.g.
        # "always on for superusers") cannot turn on what an admin switched off.
        team = getattr(request, "team", None)
        if team is None or self.pk is None or self.everyone is not None:
            return super().is_active(request, read_only)
        return self.is_active_for_team(team)


class AuthFailures(models.Model):
    """Failed log-ins or API keys under one key (an account or an address) in a time window.

    The key holds a digest of the account or address, never the e-mail or address itself.
    Rows of ended windows are deleted as new windows open (evalloop.teams.throttle).
    """

    key = models.CharField(max_length=100, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.failures} since {self.window_start:%Y-%m-%d %H:%M:%S}"
