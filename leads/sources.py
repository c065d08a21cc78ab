"""A lead's source and medium in the words marketing uses.

Campaign tags come first: ``utm_source`` and ``utm_medium``, lower-cased.
Without them, a click id names the ad platform (``gclid``, ``gbraid`` and
``wbraid``: google / cpc; ``msclkid``: bing / cpc; ``fbclid``: facebook /
social, which Facebook adds to unpaid links too). Without either, the
referrer's host names a search engine (organic), a social network (social)
or another site (referral). No referrer at all is direct / none.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

DIRECT = ("direct", "none")

# Click ids, in the order they are trusted when a visit carries more than one.
CLICK_IDS = (
    ("gclid", "google", "cpc"),
    ("gbraid", "google", "cpc"),
    ("wbraid", "google", "cpc"),
    ("msclkid", "bing", "cpc"),
    ("fbclid", "facebook", "social"),
)

# A referrer host (or a utm_source written as a host) -> (source, medium).
# Matched on the host and on each parent domain, and for search engines also
# on the name before a country ending ("google" in google.co.uk).
SEARCH_ENGINES = {
    "google": "google",
    "bing": "bing",
    "yahoo": "yahoo",
    "duckduckgo": "duckduckgo",
    "ecosia": "ecosia",
    "baidu": "baidu",
    "yandex": "yandex",
    "startpage": "startpage",
    "qwant": "qwant",
    "brave": "brave",
}
SOCIAL_HOSTS = {
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "fb.me": "facebook",
    "messenger.com": "facebook",
    "instagram.com": "instagram",
    "t.co": "twitter",
    "twitter.com": "twitter",
    "x.com": "twitter",
    "linkedin.com": "linkedin",
    "lnkd.in": "linkedin",
    "youtube.com": "youtube",
    "youtu.be": "youtube",
    "tiktok.com": "tiktok",
    "pinterest.com": "pinterest",
    "pinterest.co.uk": "pinterest",
    "reddit.com": "reddit",
    "threads.net": "threads",
    "whatsapp.com": "whatsapp",
    "wa.me": "whatsapp",
    "snapchat.com": "snapchat",
}
# Spellings of a utm_source that mean one of the names above.
SOURCE_ALIASES = {
    "fb": "facebook",
    "ig": "instagram",
    "insta": "instagram",
    "adwords": "google",
    "googleads": "google",
    "google-ads": "google",
    "google_ads": "google",
    "microsoft": "bing",
    "microsoftads": "bing",
    "x": "twitter",
}
# Spellings of a utm_medium that mean a standard one.
MEDIUM_ALIASES = {
    "ppc": "cpc",
    "paid": "cpc",
    "paidsearch": "cpc",
    "paid-search": "cpc",
    "paid_search": "cpc",
    "paid-social": "paid_social",
    "paidsocial": "paid_social",
    "social-media": "social",
    "social_media": "social",
    "e-mail": "email",
}
MAX = 100  # the columns' length


def classify(attribution: Mapping[str, str], own_host: str = "") -> tuple[str, str]:
    """(source, medium) of a visit, both lower-case, from its captured attribution."""
    tagged = _clean(attribution.get("utm_source"))
    medium = MEDIUM_ALIASES.get(m := _clean(attribution.get("utm_medium")), m)
    click = next(
        (
            (source, click_medium)
            for name, source, click_medium in CLICK_IDS
            if attribution.get(name)
        ),
        None,
    )
    referred = from_referrer(attribution.get("referrer") or "", own_host)
    if tagged:
        source = source_name(tagged)
        if not medium:
            # A tag without a medium borrows one from what else the visit says.
            if click and click[0] == source:
                medium = click[1]
            elif referred and referred[0] == source:
                medium = referred[1]
        return source[:MAX], medium[:MAX]
    if click:
        return click[0], medium or click[1]
    if referred:
        return referred[0][:MAX], (medium or referred[1])[:MAX]
    return DIRECT[0], medium or DIRECT[1]


def from_referrer(referrer: str, own_host: str = "") -> tuple[str, str] | None:
    """(source, medium) for a Referer address, or None when it names no other site."""
    try:
        host = (urlsplit(referrer.strip()).hostname or "").lower().rstrip(".")
    except ValueError:
        return None
    if not host or host == own_host.lower().split(":")[0]:
        return None
    return host_source(host)


def host_source(host: str) -> tuple[str, str]:
    host = host.removeprefix("www.")
    labels = host.split(".")
    for n in range(len(labels) - 1):
        parent = ".".join(labels[n:])
        if parent in SOCIAL_HOSTS:
            return SOCIAL_HOSTS[parent], "social"
    for label in labels[:-1]:
        if label in SEARCH_ENGINES:
            return SEARCH_ENGINES[label], "organic"
    return host, "referral"


def source_name(value: str) -> str:
    """A utm_source as people would group it: "Google", "google.com" -> "google"."""
    value = value.lower()
    if value in SOURCE_ALIASES:
        return SOURCE_ALIASES[value]
    if "." in value and " " not in value:
        found, medium = host_source(value)
        if medium != "referral":
            return found
    return value


def _clean(value: str | None) -> str:
    return " ".join((value or "").split()).lower()
