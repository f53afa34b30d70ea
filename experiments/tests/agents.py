"""User agents the crawler tests share: the maintained list's own examples, crawlers the old
hand list missed, ordinary browsers, and the edges where regular-expression engines differ."""

import crawleruseragents

from demo_lake.clients import PLATFORMS, USER_AGENTS

LISTED = crawleruseragents.CRAWLER_USER_AGENTS_DATA
# Every example agent the package gives for its patterns.
INSTANCES = [agent for entry in LISTED for agent in entry["instances"]]
# The crawlers that the old hand list missed.
NAMED = [
    "Screaming Frog SEO Spider/21.4",
    "msnbot/2.0b (+http://search.msn.com/msnbot.htm)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; GoogleOther)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
    "+https://openai.com/bot",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; OAI-SearchBot/1.0; "
    "+https://openai.com/searchbot",
]
BROWSERS = [
    ua for ua, platform in zip(USER_AGENTS, PLATFORMS, strict=True) if platform != "crawler"
]
BROWSERS += [
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/480.0.0.44.109;FBBV/656120950]",
]
# Where the engines' own readings of the package's syntax differ: a line end before the end
# of the text ($), Unicode digits (\d), line breaks inside "any character" ([\s\S]).
EDGES = [
    "Probe by SSL Labs\n",
    "Probe by SSL Labs",
    "SSL Labs\x03 (the end mark inside an agent)",
    "GoogleAssociationService",
    "Mozilla/5.0 GoogleAssociationService\r\n",
    "AdsBot-Google",
    "AdsBot-Google-Mobile-Apps",
    "BlogTraffic/\u0663.\u0664 Feed-Fetcher",
    "BlogTraffic/3.14 Feed-Fetcher",
    "ContextualBot\nby outcomes.net",
    "sentry/1.0",
    "raven sentry/1.0",
    "Xsentry/1.0",
    "",
    None,
]
