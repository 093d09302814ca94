"""Exceptions services raise that every interface (API, views, CLI) knows how to answer."""


class Conflict(Exception):
    """The request conflicts with the current state (the API answers 409)."""
