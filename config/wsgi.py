import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def _warm_up() -> None:
    """Load now what the first requests would otherwise wait for.

    The evaluator kinds bring the LLM client libraries with them, seconds of imports on a
    cold start; a web process loads them before it accepts its first request instead.
    """
    from evalloop.evaluators.kinds import REGISTRY, get_kind

    for name in REGISTRY:
        get_kind(name)


_warm_up()
