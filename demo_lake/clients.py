"""The apps, browsers and crawlers identities use; a platform code indexes every tuple here."""

import numpy as np
import pyarrow as pa

PLATFORMS = ("ios", "android", "web", "web", "web", "crawler", "crawler")
USER_AGENTS = (
    "Marketplace/5.12.0 (iPhone; iOS 18.1; Scale/3.00)",
    "Marketplace/5.12.0 (Linux; Android 14; Pixel 8)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)
APP_VERSIONS = pa.array(["5.12.0", "5.12.1", "web", "web", "web", "web", "web"])
HUMAN_PLATFORM_P = np.array([0.30, 0.25, 0.22, 0.10, 0.13])
APP_PLATFORMS = 2  # platform codes below this are the mobile apps (they can send late batches)
CRAWLER_PLATFORMS = (5, 6)
