"""Known crawlers, by user agent: they always see control (no cloaking of public SEO pages) and
are left out of every analysis. One list for both: `is_crawler` here and `CRAWLER_PATTERN`, the
regular expression the canonical SQL binds as :crawler_pattern against the lower-cased agent."""

import re

# Lower-case fragments of crawler user agents; letters, digits and hyphens only, so each is
# the same literal in Python's, DuckDB's (RE2), PostgreSQL's and Trino's regular expressions.
KNOWN_CRAWLERS = (
    "googlebot",
    "google-inspectiontool",
    "adsbot-google",
    "mediapartners-google",
    "storebot-google",
    "bingbot",
    "bingpreview",
    "adidxbot",
    "slurp",
    "duckduckbot",
    "baiduspider",
    "yandexbot",
    "sogou",
    "exabot",
    "applebot",
    "petalbot",
    "seznambot",
    "qwantify",
    "ahrefsbot",
    "semrushbot",
    "mj12bot",
    "dotbot",
    "rogerbot",
    "screaming-frog",
    "facebookexternalhit",
    "facebot",
    "twitterbot",
    "linkedinbot",
    "pinterestbot",
    "slackbot",
    "discordbot",
    "telegrambot",
    "whatsapp",
    "gptbot",
    "ccbot",
    "claudebot",
    "perplexitybot",
    "bytespider",
    "amazonbot",
)
CRAWLER_PATTERN = "|".join(KNOWN_CRAWLERS)
_PATTERN = re.compile(CRAWLER_PATTERN)


def is_crawler(user_agent: str | None) -> bool:
    return bool(user_agent) and _PATTERN.search(user_agent.lower()) is not None
