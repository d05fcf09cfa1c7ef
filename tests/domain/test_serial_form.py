"""The serial normal form (ledger/domain/ids.py, docs/identity.md): a table of look-alikes per
class, each
folded to the form of the plain marking or refused, and the ids issued before it kept."""

from __future__ import annotations

import re
import unicodedata
from uuid import UUID

import pytest

from ledger.domain.errors import InvalidInput
from ledger.domain.ids import identity_key, item_id, marking_form

PLAIN = "AK-1000"
FORM = "aklooo"
"""0 and O, 1 and l and I share a UTS #39 skeleton: a person cannot tell them apart on a rifle."""

LOOK_ALIKES = {
    "scripts": [
        "\u0410\u041a-1000",  # Cyrillic capital A, KA
        "\u0430\u043a-1000",  # Cyrillic small a, ka
        "\u0391\u039a-1000",  # Greek capital ALPHA, KAPPA
        "\u03b1\u03ba-1000",  # Greek small alpha, kappa
        "AK-1OOO",  # Latin capital O for zero
        "AK-l000",  # Latin small l for one
        "ak-I000",  # Latin capital I for one, lower case letters
    ],
    "digit systems": [
        "AK-\u0661\u0660\u0660\u0660",  # Arabic-Indic
        "AK-\u06f1\u06f0\u06f0\u06f0",  # Extended Arabic-Indic (Persian)
        "AK-\u0967\u0966\u0966\u0966",  # Devanagari
        "AK-\u09e7\u09e6\u09e6\u09e6",  # Bengali
        "AK-\u0e51\u0e50\u0e50\u0e50",  # Thai
        "AK-\U0001d7cf\U0001d7ce\U0001d7ce\U0001d7ce",  # mathematical bold digits
    ],
    "separators": [
        "AK1000",
        "AK.1000",
        "AK_1000",
        "AK/1000",
        "AK\u00b71000",  # middle dot
        "AK 1000",
        "AK\u00a01000",  # no-break space
        "AK\u20131000",  # en dash
        "AK\u22121000",  # minus sign
        "AK:1000",
        "(AK) #1000",
        "AK*1000",
    ],
    "compatibility forms": [
        "\uff21\uff2b\uff0d\uff11\uff10\uff10\uff10",  # fullwidth
        "\U0001d400\U0001d40a-1000",  # mathematical bold capitals
        "\u24b6\u24c0-1000",  # circled letters (NFKC: A, K)
        "AK-\u2460000",  # circled digit one
    ],
}

REFUSED = {
    "invisible characters": [
        ("AK-\u200d1000", "a format character (U+200D)"),  # zero width joiner
        ("AK-\u200c1000", "a format character (U+200C)"),  # zero width non-joiner
        ("AK-\u00ad1000", "a format character (U+00AD)"),  # soft hyphen
        ("AK-\u20601000", "a format character (U+2060)"),  # word joiner
        ("\ufeffAK-1000", "a format character (U+FEFF)"),  # byte order mark
        ("AK-\u31641000", "a default-ignorable character (U+3164)"),  # Hangul filler
        ("AK-\uffa01000", "a default-ignorable character (U+FFA0)"),  # halfwidth Hangul filler
        ("AK-\u115f1000", "a default-ignorable character (U+115F)"),  # Hangul choseong filler
        ("AK-1000\ufe0f", "a default-ignorable character (U+FE0F)"),  # variation selector
        ("AK-\u034f1000", "a default-ignorable character (U+034F)"),  # combining grapheme joiner
    ],
    "controls, private use, unassigned": [
        ("AK-\x071000", "a control character (U+0007)"),
        ("AK-\u00851000", "a control character (U+0085)"),
        ("AK-\ue0001000", "a private-use character (U+E000)"),
        ("AK-\u03781000", "an unassigned character (U+0378)"),
    ],
    "no letter or digit": [
        ("...", "has no letter or digit"),
        ("_", "has no letter or digit"),
        ("???", "has no letter or digit"),
        ("-/-", "has no letter or digit"),
        ("\u00b7\u00b7", "has no letter or digit"),
        ("\u2605", "has no letter or digit"),  # a symbol only
    ],
}


def _cases(table: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(kind, value) for kind, values in table.items() for value in values]


@pytest.mark.parametrize(("kind", "serial"), _cases(LOOK_ALIKES))
def test_a_look_alike_of_a_serial_has_the_same_normal_form(kind: str, serial: str) -> None:
    assert marking_form(serial) == FORM, kind


@pytest.mark.parametrize(
    ("kind", "serial", "reason"),
    [(kind, value, reason) for kind, values in REFUSED.items() for value, reason in values],
)
def test_a_serial_with_an_invisible_or_unassigned_character_or_no_letter_is_refused(
    kind: str, serial: str, reason: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(reason)) as refused:
        marking_form(serial)

    assert reason in refused.value.message, kind


def test_different_serials_keep_different_normal_forms() -> None:
    forms = {marking_form(s) for s in ("AK-1000", "AK-1001", "AK-10000", "AKM-1000", "AR-1000")}

    assert len(forms) == 5


def test_the_normal_form_is_its_own_normal_form_and_ignores_case_for_every_bmp_letter() -> None:
    letters = [
        chr(c) for c in range(0x30, 0x10000) if unicodedata.category(chr(c))[0] in ("L", "N")
    ]
    not_closed, not_idempotent = [], []
    for ch in letters:
        try:
            form = marking_form("A" + ch)
        except InvalidInput:
            continue  # a refused character (default-ignorable letters such as U+3164)
        if {marking_form("A" + ch.upper()), marking_form("A" + ch.lower())} != {form}:
            not_closed.append(ch)
        if marking_form(form) != form:
            not_idempotent.append(ch)

    assert (not_closed, not_idempotent) == ([], [])


def test_model_and_manufacturer_names_are_folded_into_the_identity_too() -> None:
    plain = identity_key("Kalashnikov Concern", "AK-74M", PLAIN)

    assert identity_key("KALASHNIKOV-CONCERN", "\u0410\u041a-74\u041c", "ak 1000") == plain
    assert identity_key("Kalashnikov Concern", "AK-74", PLAIN) != plain


def test_a_model_name_without_a_letter_or_digit_is_refused() -> None:
    with pytest.raises(InvalidInput, match="model '---' has no letter or digit") as refused:
        identity_key("Maker", "---", PLAIN)

    assert refused.value.message == "model '---' has no letter or digit"


@pytest.mark.parametrize(
    ("marking", "expected"),
    [
        (("Kalashnikov Concern", "AK-74M", "ab-12 345"), "9a03f317-2661-5a87-8a33-43cc655ee9f9"),
        (("FN Herstal", "FN SCAR-L", "FN\u20100001"), "38ad3344-70ec-5c2c-a0e5-5073d524ab48"),
        (
            ("\uff26\uff55\uff4c\uff4c", "Wide", "\uff21\uff22\uff11\uff12"),
            "9c199010-6a76-5c1a-bc6e-a763a5cf23a2",
        ),
    ],
)
def test_item_ids_are_the_ids_issued_before_the_normal_form(
    marking: tuple[str, str, str], expected: str
) -> None:
    """Computed with ledger/domain/ids.py as it was before the normal form (main at cc33c14)."""
    assert item_id(*marking) == UUID(expected)
