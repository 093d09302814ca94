from django.apps import AppConfig
from django.db.backends.signals import connection_created


class FiltersConfig(AppConfig):
    name = "evalloop.filters"
    label = "filters"

    def ready(self) -> None:
        from evalloop.lib.regex import install_sqlite_regexp

        # The `regex` operator compiles to REGEXP on SQLite: match with RE2, not Python's re.
        connection_created.connect(install_sqlite_regexp, dispatch_uid="evalloop-regexp")
