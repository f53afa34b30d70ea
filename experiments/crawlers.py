"""Known crawlers, by user agent, from the maintained list of the crawler-user-agents package.

They always see control (no cloaking of public SEO pages) and every identity a crawler was
exposed as is left out of the analysis. One rule for both: assignment calls `is_crawler` here,
and the canonical SQL binds `CRAWLER_PATTERN` as :crawler_pattern and matches it against the
same text, ``coalesce(user_agent, '') || chr(3)``.

The package's patterns are regular expressions in Python's syntax, read case-sensitively (as
its own ``is_crawler``). Python's ``re``, DuckDB's RE2, Trino's Joni, PostgreSQL's ARE and
Redshift's POSIX expressions do not read all of that alike (``[\\s\\S]`` is an error inside
PostgreSQL brackets; ``$`` also matches before a final newline in Python and Trino but not in
RE2 or PostgreSQL; ``\\d`` is any Unicode digit in Python, ASCII in RE2). So each pattern is
rewritten into a small portable subset, and both sides match the rewritten pattern:

- literal characters; the metacharacters among them escaped with a backslash;
- bracket lists of letters, digits, spaces and hyphens, plain or negated (``[wW]``, ``[^-]``);
  ``\\d`` becomes ``[0123456789]`` and ``[\\s\\S]`` (any character) becomes ``[^<END_MARK>]``;
- groups ``( )``, alternation ``|``, the quantifiers ``*``, ``+`` and ``?``;
- ``^`` (the start of the text: no engine here matches it anywhere else without a flag);
- ``$`` becomes the character END_MARK, which the agent is followed by on both sides, so no
  engine's idea of a line end plays a part.

Anything else in a pattern (a new construct in a later release of the list) raises
`UnportablePattern` at import, so an upgrade that would let the engines disagree fails loudly.
"""

import re
from functools import lru_cache

import crawleruseragents

# Appended to every agent before matching; stands for the end of the text.
END_MARK = "\x03"
AGENTS_CACHED = 65_536
_METACHARACTERS = frozenset(".^$*+?()[]{}|\\")
_LIST_CHARACTERS = re.compile(r"[A-Za-z0-9 -]")
_DIGITS = "[0123456789]"
_ANY = f"[^{END_MARK}]"


class UnportablePattern(ValueError):
    """A crawler pattern uses syntax outside the subset every engine reads alike."""


def portable(pattern: str) -> str:
    """``pattern`` (Python syntax) rewritten into the portable subset."""
    out: list[str] = []
    depth, i, n = 0, 0, len(pattern)
    atom = False  # whether a quantifier may follow
    while i < n:
        char = pattern[i]
        if char == "\\":
            if i + 1 >= n:
                raise UnportablePattern(f"{pattern!r}: a trailing backslash")
            escaped = pattern[i + 1]
            if escaped == "d":
                out.append(_DIGITS)
            elif not escaped.isalnum() and escaped.isascii() and escaped.isprintable():
                out.append(_literal(escaped))
            else:
                raise UnportablePattern(f"{pattern!r}: the escape \\{escaped}")
            i, atom = i + 2, True
        elif char == "[":
            end = pattern.find("]", i + 2)  # a "]" right after "[" would be a member
            if end < 0:
                raise UnportablePattern(f"{pattern!r}: an unclosed bracket")
            out.append(_bracket(pattern, pattern[i + 1 : end]))
            i, atom = end + 1, True
        elif char == "(":
            if pattern.startswith("(?", i):
                raise UnportablePattern(f"{pattern!r}: the group syntax (?")
            depth += 1
            out.append(char)
            i, atom = i + 1, False
        elif char == ")":
            if depth == 0 or pattern[i - 1] in "(|":
                raise UnportablePattern(f"{pattern!r}: an unbalanced or empty group")
            depth -= 1
            out.append(char)
            i, atom = i + 1, True
        elif char == "|":
            if i == 0 or i == n - 1 or pattern[i - 1] in "(|":
                raise UnportablePattern(f"{pattern!r}: an empty alternative")
            out.append(char)
            i, atom = i + 1, False
        elif char in "*+?":
            if not atom or (i + 1 < n and pattern[i + 1] in "*+?{"):
                raise UnportablePattern(f"{pattern!r}: a quantifier at position {i}")
            out.append(char)
            i, atom = i + 1, False
        elif char == "^":
            out.append(char)
            i, atom = i + 1, False
        elif char == "$":
            out.append(END_MARK)
            i, atom = i + 1, False
        elif char in _METACHARACTERS:  # ".", "{", "}", "]": not in the subset
            raise UnportablePattern(f"{pattern!r}: the metacharacter {char!r}")
        else:
            out.append(char)
            i, atom = i + 1, True
    if depth:
        raise UnportablePattern(f"{pattern!r}: an unclosed group")
    return "".join(out)


def _literal(char: str) -> str:
    return f"\\{char}" if char in _METACHARACTERS else char


def _bracket(pattern: str, inside: str) -> str:
    if inside in (r"\s\S", r"\S\s"):
        return _ANY
    negated = inside.startswith("^")
    members = inside[1:] if negated else inside
    if not members or not all(_LIST_CHARACTERS.fullmatch(c) for c in members):
        raise UnportablePattern(f"{pattern!r}: the bracket [{inside}]")
    if "-" in members.strip("-"):
        raise UnportablePattern(f"{pattern!r}: a range in [{inside}]")
    # A hyphen first is a member in every syntax, never a range.
    ordered = "-" * ("-" in members) + members.replace("-", "")
    return f"[{'^' if negated else ''}{ordered}]"


PATTERNS = tuple(entry["pattern"] for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA)
# Top-level alternatives: "|" binds loosest in every syntax, so no group is needed around each.
CRAWLER_PATTERN = "|".join(portable(p) for p in PATTERNS)
_PATTERN = re.compile(CRAWLER_PATTERN)


@lru_cache(maxsize=AGENTS_CACHED)
def is_crawler(user_agent: str | None) -> bool:
    """Whether the agent matches a crawler pattern; no agent at all is a person's.

    Cached per agent: one search tries hundreds of alternatives at every position (about a
    millisecond), while the traffic of the assignment API repeats a few thousand agents."""
    return _PATTERN.search(f"{user_agent or ''}{END_MARK}") is not None
