"""Claims that UK advertising rules forbid or restrict for cosmetic and medical treatments.

Treatments for hair loss may not be promised to cure, to work for everyone, to
last for ever or to be free of pain or risk. Copy that uses such words is not
refused (a sentence such as "no treatment is guaranteed to work" is honest),
but the editor names the words when it is saved, and publishing it needs an
explicit confirmation that is kept on the revision.

Matching is whole-word and case-insensitive; a phrase matches across any run of
spaces or hyphens ("pain free", "pain-free").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# Each entry is how the warning names it; the pattern is built from it.
RESTRICTED_CLAIMS = (
    "cure",
    "cures",
    "cured",
    "curing",
    "guarantee",
    "guaranteed",
    "guarantees",
    "permanent",
    "permanently",
    "100%",
    "100 percent",
    "pain-free",
    "painless",
    "no pain",
    "no side effects",
    "no side-effects",
    "side-effect free",
    "risk-free",
    "no risk",
    "no risks",
    "completely safe",
    "totally safe",
    "miracle",
    "miraculous",
    "instant results",
    "overnight results",
    "works for everyone",
    "proven to regrow",
    "clinically proven",
    "breakthrough",
    "best in the uk",
)


def _pattern(phrase: str) -> str:
    words = re.split(r"[\s-]+", phrase)
    body = r"[\s\-]+".join(re.escape(word) for word in words)
    # Letters and digits on either side make it a different word ("secure", "1000%").
    return rf"(?<![\w]){body}(?![\w])"


_MATCHERS = [(phrase, re.compile(_pattern(phrase), re.IGNORECASE)) for phrase in RESTRICTED_CLAIMS]


def find_claims(texts: Mapping[str, str | None] | Iterable[str | None]) -> list[str]:
    """The restricted claims found in ``texts`` (a page's fields), each named once, in order."""
    values = texts.values() if isinstance(texts, Mapping) else texts
    joined = "\n".join(value for value in values if value)
    # One name per claim: "no side effects" and "no side-effects" are the same finding.
    found: list[str] = []
    for phrase, matcher in _MATCHERS:
        if matcher.search(joined):
            name = _canonical(phrase)
            if name not in found:
                found.append(name)
    return found


def _canonical(phrase: str) -> str:
    return re.sub(r"[\s-]+", " ", phrase)
