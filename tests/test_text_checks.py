"""The text checks every request passes, against a character-by-character
reading of what they promise, on any text at all."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from leads.input_guard import REPLACEMENT, TEXT_CONTROLS, problem, strip_controls

# Any code point, lone surrogates and the replacement mark included.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40) | st.text(
    st.sampled_from("aé \t\n\r\x00\x7f\u200b\ud800\ufffd\u00a0\u2028"), max_size=12
)


def problem_by_character(value: str, allow: frozenset[str]) -> str | None:
    for ch in value:
        if ch == REPLACEMENT:
            return "holds bytes that are not UTF-8 text"
        category = unicodedata.category(ch)
        if category == "Cs":
            return "holds a broken character (a lone surrogate)"
        if category == "Cc" and ch not in allow:
            return "holds a control character"
    return None


def stripped_by_character(value: str, allow: frozenset[str]) -> str:
    return "".join(
        ch
        for ch in value
        if ch == " "
        or ch in allow
        or (unicodedata.category(ch) not in ("Cc", "Cs") and ch != REPLACEMENT)
    )


@settings(max_examples=500)
@given(TEXT, st.sampled_from([frozenset(), TEXT_CONTROLS]))
def test_problem_names_the_first_fault_of_any_text(value, allow):
    assert problem(value, allow) == problem_by_character(value, allow)


@settings(max_examples=500)
@given(TEXT, st.sampled_from([frozenset(), TEXT_CONTROLS]))
def test_strip_controls_keeps_exactly_the_allowed_characters(value, allow):
    assert strip_controls(value, allow) == stripped_by_character(value, allow)


def test_plain_text_passes_untouched_and_each_fault_is_named():
    assert problem("Mesotherapy at Harley Street, 2 pm") is None
    assert strip_controls("Zoë O’Neill") == "Zoë O’Neill"
    assert problem("caf\ufffd") == "holds bytes that are not UTF-8 text"
    assert problem("a\x00b") == "holds a control character"
    assert problem("a\tb") == "holds a control character"
    assert problem("a\tb", TEXT_CONTROLS) is None
    assert problem("a\ud800") == "holds a broken character (a lone surrogate)"
    assert strip_controls("a\x00b\ufffdc\ud800") == "abc"
