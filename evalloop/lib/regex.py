"""evalloop's regular expressions: linear-time matching, one dialect on every database.

Patterns come from users (filters today, the `regex` evaluator next), so matching them must
never take time exponential in the text: Python's `re` backtracks, and `(a+)+$` over a long
run of a's ending in b would hold a worker for hours. RE2 (`google-re2`) matches in time
linear in the text, whatever the pattern, so there is nothing to time out and no worker to
kill; what it gives up (backreferences, lookaround) is what makes backtracking necessary.
The `regex` package's `timeout=` was the other choice: it keeps every construct but only
bounds each call, so a pattern slow on every row still costs the timeout times the rows.

Filters run on PostgreSQL too, whose `~` reads patterns its own way, so the dialect is the
part of RE2's syntax that PostgreSQL reads the same: `check` walks a pattern, refuses every
construct outside it with a message naming the construct, and answers the pattern RE2 runs.
Readings are aligned on the way: `.` matches a newline and `$` only the end of the text
(PostgreSQL's defaults), and `\\w`, `\\s` and `[:alpha:]` reach beyond ASCII as PostgreSQL's
do in a UTF-8 locale (letters of every script, Unicode spaces); classes whose reach beyond
ASCII cannot be matched cheaply (`[:upper:]`, `[:punct:]`...) are refused.
"""

from __future__ import annotations

import functools
import re
import string
from typing import Any

import re2

MAX_REPEAT = 255  # PostgreSQL refuses larger bounds such as a{256}
LAST = 0x10FFFF


def _complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    answer, start = [], 0
    for low, high in sorted(ranges):
        if low > start:
            answer.append((start, low - 1))
        start = max(start, high + 1)
    return [*answer, (start, LAST)] if start <= LAST else answer


def _ascii_outside(kept: str) -> list[tuple[int, int]]:
    return [(code, code) for code in range(0x80) if chr(code) not in kept]


def _class(ranges: list[tuple[int, int]]) -> str:
    return "".join(
        f"\\x{{{low:x}}}" if low == high else f"\\x{{{low:x}}}-\\x{{{high:x}}}"
        for low, high in ranges
    )


# Beyond ASCII, PostgreSQL's \w (and [:alpha:]) follows the locale: letters and digits of
# every script. RE2's \p{L} says the same but costs a large automaton per use (`\w{255}`
# takes half a second to compile), so letters are read as what is not a space, punctuation
# or a symbol: the Latin-1 signs, the blocks of punctuation, arrows, symbols and emoji.
NOT_LETTERS_BEYOND_ASCII = [
    *[(0x80, 0xA9), (0xAB, 0xB4), (0xB6, 0xB9), (0xBB, 0xBF), (0xD7, 0xD7), (0xF7, 0xF7)],
    *[(0x2000, 0x2BFF), (0x2E00, 0x2E7F), (0x3000, 0x303F), (0xFE00, 0xFE0F)],
    *[(0xFE30, 0xFE6F), (0xFF00, 0xFF0F), (0xFF1A, 0xFF20), (0xFF3B, 0xFF40)],
    *[(0xFF5B, 0xFF65), (0x1F000, 0x1FAFF)],
]


def _letters(ascii_kept: str) -> str:
    return _class(_complement(_ascii_outside(ascii_kept) + NOT_LETTERS_BEYOND_ASCII))


WORD = _letters(string.ascii_letters + string.digits + "_")
# PostgreSQL's spaces are the C library's: the Unicode spaces except the no-break ones.
UNICODE_SPACES = [(0x1680, 0x1680), (0x2000, 0x2006), (0x2008, 0x200A), (0x2028, 0x2029)]
SPACE = "\\t\\n\\v\\f\\r " + _class([*UNICODE_SPACES, (0x205F, 0x205F), (0x3000, 0x3000)])
CLASS_ESCAPES = {"w": WORD, "s": SPACE}
POSIX_CLASSES = {
    "alpha": _letters(string.ascii_letters),
    "alnum": _letters(string.ascii_letters + string.digits),
    "space": SPACE,
    "digit": "0-9",
    "xdigit": "0-9A-Fa-f",
}
# Escapes that mean the same in both engines, outside [...] and inside it.
SAME_ESCAPES = frozenset("dDtnrfv")
SAME_ESCAPES_IN_CLASS = frozenset("dtnrfv")
LITERAL_ESCAPES = frozenset(string.punctuation + " ")
BOUND = re.compile(r"\{([0-9]+)(?:(,)([0-9]*))?\}")
QUANTIFIERS = frozenset("*+?{")
LITERAL_CONTROLS = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f", "\v": "\\v"}


class RegexError(ValueError):
    """A pattern outside evalloop's dialect; the message names what is wrong."""


class _Reader:
    """Walks a pattern once, refusing what is not portable, writing the pattern RE2 runs."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.at = 0
        self.out: list[str] = []
        # What the last item was: "start", "open", "bar" and "anchor" leave nothing to repeat.
        self.last = "start"

    def peek(self, offset: int = 0) -> str:
        index = self.at + offset
        return self.pattern[index] if index < len(self.pattern) else ""

    def read(self) -> str:
        if self.pattern.startswith("(?i)"):
            self.emit("(?i)", 4, "start")
        while self.at < len(self.pattern):
            self.item()
        return "".join(self.out)

    def emit(self, text: str, width: int, kind: str) -> None:
        self.out.append(text)
        self.at += width
        self.last = kind

    def item(self) -> None:
        char = self.peek()
        if char in QUANTIFIERS:
            self.quantifier(char)
        elif char == "\\":
            self.escape()
        elif char == "[":
            self.bracket()
        elif char == "(":
            self.group()
        elif char in "^$":
            self.emit(char, 1, "anchor")
        elif char == "|":
            self.emit(char, 1, "bar")
        else:
            self.emit(char, 1, "atom")

    def quantifier(self, char: str) -> None:
        if self.last in {"start", "open", "bar", "anchor"}:
            raise RegexError(f"nothing to repeat before {char} (escape it as \\{char})")
        if self.last == "lazy" or (self.last == "quantifier" and char != "?"):
            if char == "+":
                raise RegexError("possessive quantifiers like a*+ are not supported")
            raise RegexError(f"a quantifier cannot follow another ({char})")
        if self.last == "quantifier":  # a?, a*? and a{2}? are lazy: they match the same
            self.emit(char, 1, "lazy")
        elif char == "{":
            self.bound()
        else:
            self.emit(char, 1, "quantifier")

    def bound(self) -> None:
        found = BOUND.match(self.pattern, self.at)
        if not found:
            raise RegexError("a { must start a bound like {2}, {2,} or {2,5} (write \\{ for {)")
        low, comma, high = found.groups()
        numbers = [int(low)] + ([int(high)] if high else [])
        if max(numbers) > MAX_REPEAT:
            raise RegexError(f"bounds above {MAX_REPEAT} like {found.group()} are not supported")
        if comma and high and int(high) < int(low):
            raise RegexError(f"the bound {found.group()} goes down")
        self.emit(found.group(), found.end() - self.at, "quantifier")

    def escape(self) -> None:
        char = self.peek(1)
        if char in SAME_ESCAPES or char in LITERAL_ESCAPES:
            self.emit("\\" + char, 2, "atom")
        elif char in CLASS_ESCAPES:
            self.emit(f"[{CLASS_ESCAPES[char]}]", 2, "atom")
        elif char.isupper() and char.lower() in CLASS_ESCAPES:  # \W, \S: the complement
            self.emit(f"[^{CLASS_ESCAPES[char.lower()]}]", 2, "atom")
        elif char == "A":
            self.emit("\\A", 2, "anchor")
        else:
            raise RegexError(escape_problem(char))

    def group(self) -> None:
        if self.peek(1) != "?":
            self.emit("(", 1, "open")
        elif self.peek(2) == ":":
            self.emit("(?:", 3, "open")
        else:
            raise RegexError(group_problem(self.pattern[self.at : self.at + 4]))

    def bracket(self) -> None:
        parts = ["["]
        index = self.at + 1
        if self.pattern[index : index + 1] == "^":
            parts.append("^")
            index += 1
        if self.pattern[index : index + 1] == "]":  # a ] first is itself, in both engines
            parts.append("\\]")
            index += 1
        after_class = False
        while True:
            char = self.pattern[index : index + 1]
            if not char:
                raise RegexError("a [ is never closed by ]")
            if char == "]":
                break
            part, width, is_class = self.bracket_item(index)
            if char == "-" and len(parts) > 1 and self.joins_class(index, after_class):
                raise RegexError("a range like a-z cannot start or end at a class like \\d")
            parts.append(part)
            index += width
            after_class = is_class
        self.emit("".join(parts) + "]", index + 1 - self.at, "atom")

    def joins_class(self, dash: int, after_class: bool) -> bool:
        """Whether the - at `dash` joins a class: PostgreSQL refuses it, RE2 reads a -."""
        if self.pattern[dash + 1 : dash + 2] == "]":
            return False
        return after_class or self.bracket_item(dash + 1)[2]

    def bracket_item(self, index: int) -> tuple[str, int, bool]:
        """Answer what RE2 reads for the item at `index`, its width, and whether it is a class."""
        char, after = self.pattern[index : index + 1], self.pattern[index + 1 : index + 2]
        if char == "[" and after == ":":
            end = self.pattern.find(":]", index + 2)
            name = self.pattern[index + 2 : end] if end > 0 else ""
            if name in {"upper", "lower", "punct", "graph", "print", "cntrl", "blank"}:
                raise RegexError(
                    f"[:{name}:] is not supported: beyond ASCII the databases read it "
                    "differently (list the characters, e.g. [A-Z])"
                )
            if name not in POSIX_CLASSES:
                raise RegexError(f"unknown character class [:{name}:]")
            return POSIX_CLASSES[name], end + 2 - index, True
        if char == "[" and after in {".", "="}:
            raise RegexError(f"collating elements like [{after}a{after}] are not supported")
        if char in {"[", ""}:
            return "\\[", 1, False
        if char != "\\":
            return char, 1, False
        if after in SAME_ESCAPES_IN_CLASS or after in LITERAL_ESCAPES:
            return "\\" + after, 2, after == "d"
        if after in CLASS_ESCAPES:
            return CLASS_ESCAPES[after], 2, True
        if after in {"D", "S", "W"}:
            raise RegexError(f"\\{after} inside [...] is not supported (use [^...])")
        raise RegexError(escape_problem(after))


def escape_problem(char: str) -> str:
    if not char:
        return "a pattern cannot end with a backslash"
    if char.isdigit():
        return f"backreferences like \\{char} are not supported"
    if char in "bBmMyY":
        return f"word boundaries like \\{char} are not supported"
    if char in "zZ":
        return f"\\{char} is not supported (use $ for the end of the text)"
    if not char.isprintable():
        return f"a backslash before {char!r} is not supported"
    return f"the escape \\{char} is not supported"


def group_problem(start: str) -> str:
    for lookaround in ("(?=", "(?!", "(?<=", "(?<!"):
        if start.startswith(lookaround):
            return f"lookaround like {lookaround}...) is not supported"
    if start.startswith(("(?P", "(?<")):
        return "named groups like (?P<name>...) are not supported"
    if start.startswith("(?>"):
        return "atomic groups (?>...) are not supported"
    if start.startswith("(?#"):
        return "comments (?#...) are not supported"
    return "flags are supported only as (?i) at the very start (to ignore case)"


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the caller's error, not a log line
    options.dot_nl = True
    return options


OPTIONS = _options()


@functools.lru_cache(maxsize=256)
def compile(pattern: str) -> Any:
    """Answer the compiled pattern; raise RegexError naming what is wrong or unsupported."""
    if not isinstance(pattern, str):
        raise RegexError(f"a pattern is text, not {type(pattern).__name__}")
    if "\x00" in pattern:
        raise RegexError("NUL characters are not allowed")
    translated = _Reader(pattern).read()
    try:
        return re2.compile(translated, OPTIONS)
    except re2.error as exc:
        raise RegexError(_reason(exc)) from None
    except UnicodeEncodeError:
        raise RegexError("the pattern is not valid text") from None


def _reason(exc: re2.error) -> str:
    reason = exc.args[0] if exc.args else "invalid"
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    return f"not a valid regular expression: {reason}"


def check(pattern: str) -> str:
    """Answer `pattern` when it is in the dialect; raise RegexError naming what is not."""
    compile(pattern)
    return pattern


def escape(text: str) -> str:
    """Answer a pattern in the dialect that matches `text` literally."""
    return "".join(LITERAL_CONTROLS.get(char) or _escape_char(char) for char in text)


def _escape_char(char: str) -> str:
    return "\\" + char if char in LITERAL_ESCAPES and char != " " else char


def search(pattern: str, text: str) -> Any:
    """Answer the first match of `pattern` in `text` (with .group(), .span()...), or None."""
    return compile(pattern).search(text)


def sqlite_regexp(pattern: str | None, value: Any) -> bool | None:
    """SQLite's REGEXP function (`value REGEXP pattern`), NULL in NULL out like Django's."""
    if pattern is None or value is None:
        return None
    return compile(pattern).search(value if isinstance(value, str) else str(value)) is not None


def install_sqlite_regexp(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Replace the REGEXP function Django gives each new SQLite connection with ours.

    Connected to `connection_created`, which Django sends after its own set-up of the
    connection, so ours is the one that stays.
    """
    if connection.vendor == "sqlite":
        connection.connection.create_function("REGEXP", 2, sqlite_regexp, deterministic=True)
