"""A strict, round-tripping filter language over sessions and messages.

The public interface: other apps import from here, never from the modules below.
"""

from evalloop.filters.builder import FilterState, read_filter_request
from evalloop.filters.compiler import apply_filter
from evalloop.filters.deadline import FilterTimeout, filter_time_limit
from evalloop.filters.language import (
    Clause,
    Filter,
    FilterError,
    Target,
    filter_from_querystring,
    parse_filter,
)

__all__ = [
    "Clause",
    "Filter",
    "FilterError",
    "FilterState",
    "FilterTimeout",
    "Target",
    "apply_filter",
    "filter_from_querystring",
    "filter_time_limit",
    "parse_filter",
    "read_filter_request",
]
