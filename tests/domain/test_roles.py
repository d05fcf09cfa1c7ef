"""The full role x action matrix, enforced by the Ledger itself (not only by the routes).

Each role acts for one party: admin for the operator, supplier for `supplier` (eua-1 is its own,
eua-2 is `supplier-2`'s), partner for `force` (whose units are unit-1..3; `outsider` is not its
unit), inspector for `inspectorate`, oversight for `oversight-body`, investigator for
`investigator`. The expected outcome of every (use case, role) pair is written out below by hand,
not derived from ledger/domain/access.py, so a change to the role table fails here.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from functools import partial
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.application.ledger import Ledger, Recorded
from ledger.domain.access import Actor
from ledger.domain.errors import Unauthorised
from ledger.domain.parties import Party
from ledger.domain.tokens import Role
from ledger.integrity.endorsements import prove_key
from ledger.integrity.entries import decode_entry
from ledger.integrity.submissions import key_id
from tests.programme import ADMIN, ago, conclude_agreement, issue, register

ADMIN_ROLE, SUPPLIER, PARTNER, INSPECTOR, OVERSIGHT, INVESTIGATOR = (
    Role.ADMIN,
    Role.SUPPLIER,
    Role.PARTNER,
    Role.INSPECTOR,
    Role.OVERSIGHT,
    Role.INVESTIGATOR,
)
ACTORS = {
    ADMIN_ROLE: ADMIN,
    SUPPLIER: Actor("supplier", SUPPLIER),
    PARTNER: Actor("force", PARTNER),
    INSPECTOR: Actor("inspectorate", INSPECTOR),
    OVERSIGHT: Actor("oversight-body", OVERSIGHT),
    INVESTIGATOR: Actor("investigator", INVESTIGATOR),
}
OK = None
ROLE_REFUSED = "role {role} may not {verb}"  # the coarse role table's message

EVERY_ROLE_OK: dict[Role, str | None] = dict.fromkeys(ACTORS, OK)


def only_for_itself(what: str) -> dict[Role, str | None]:
    """The admin may for any party; every other role only for its own party, so not for outsider
    ("force may not register keys for outsider")."""
    others = {role: f"{actor.party} may not {what} outsider" for role, actor in ACTORS.items()}
    return others | {ADMIN_ROLE: OK}


def holder_cases(
    case: str, verb: str, *, also: dict[Role, str | None] | None = None
) -> dict[str, tuple[str, dict[Role, str | None]]]:
    """Three cases of a command a partner may take only on what it or its units hold: the item
    held by force itself, by its unit, by outsider. `also`: other roles allowed in all three."""
    allowed = {ADMIN_ROLE: OK, **(also or {}), PARTNER: OK}
    refused = allowed | {
        PARTNER: f"force may {verb} only items it holds; this one is held by outsider"
    }
    return {
        f"{case}_held_by_itself": (verb, allowed),
        f"{case}_held_by_its_unit": (verb, allowed),
        f"{case}_held_by_another_party": (verb, refused),
    }


# case -> (the verb of the coarse refusal, {role: OK | the refusal message, a regex}).
# A role missing from a case's dict is refused by the coarse table with ROLE_REFUSED.
MATRIX: dict[str, tuple[str, dict[Role, str | None]]] = {
    "register_party": ("register party", {ADMIN_ROLE: OK}),
    "conclude_agreement": ("conclude agreement", {ADMIN_ROLE: OK}),
    "grant_token": ("grant token", {ADMIN_ROLE: OK}),
    "register_key_for_itself": (
        "manage keys",
        EVERY_ROLE_OK,
    ),
    "register_key_for_another_party": (
        "manage keys",
        only_for_itself("register keys for"),
    ),
    "revoke_key_of_itself": (
        "manage keys",
        EVERY_ROLE_OK,
    ),
    "revoke_key_of_another_party": (
        "manage keys",
        only_for_itself("revoke keys of"),
    ),
    "revoke_own_token": (
        "revoke token",
        EVERY_ROLE_OK,
    ),
    "revoke_another_partys_token": (
        "revoke token",
        only_for_itself("revoke tokens of"),
    ),
    "issue_under_own_agreement": ("issue", {ADMIN_ROLE: OK, SUPPLIER: OK}),
    "issue_under_another_suppliers_agreement": (
        "issue",
        {ADMIN_ROLE: OK, SUPPLIER: "agreement eua-2 is supplier-2's, not supplier's"},
    ),
    **holder_cases("transfer", "transfer"),
    **holder_cases("receive", "receive"),
    **holder_cases("report_lost", "report lost"),
    **holder_cases("dispose", "dispose"),
    "inspect_physically_held_by_its_unit": (
        "inspect",
        {ADMIN_ROLE: OK, INSPECTOR: OK, PARTNER: "a partner's own inspection is a self_report"},
    ),
    "inspect_physically_held_by_another_party": (
        "inspect",
        {
            ADMIN_ROLE: OK,
            INSPECTOR: OK,
            PARTNER: "force may inspect only items it holds; this one is held by outsider",
        },
    ),
    **holder_cases("self_report", "inspect", also={INSPECTOR: OK}),
    "recover_by_itself": ("recover", {ADMIN_ROLE: OK, PARTNER: OK}),
    "recover_by_its_unit": ("recover", {ADMIN_ROLE: OK, PARTNER: OK}),
    "recover_by_another_party": (
        "recover",
        {
            ADMIN_ROLE: OK,
            PARTNER: "force may record recoveries only by itself or its units, not by outsider",
        },
    ),
    # A documented deviation: inspectors and investigators may record sightings.
    "sight": ("sight", {ADMIN_ROLE: OK, INSPECTOR: OK, INVESTIGATOR: OK}),
    "correct_own_entry": (
        "correct",
        {ADMIN_ROLE: OK, SUPPLIER: OK, PARTNER: OK, INSPECTOR: OK, INVESTIGATOR: OK},
    ),
    "correct_another_partys_entry": (
        "correct",
        {
            ADMIN_ROLE: OK,
            SUPPLIER: r"entry \d+ was recorded by another party",
            PARTNER: r"entry \d+ was recorded by another party",
            INSPECTOR: r"entry \d+ was recorded by another party",
            INVESTIGATOR: r"entry \d+ was recorded by another party",
        },
    ),
}

Act = Callable[[], Recorded]
_serials = iter(range(1, 1_000_000))


@pytest.fixture
def ledger(ledger: Ledger) -> Ledger:
    register(ledger)
    ledger.register_party(
        party_id="oversight-body", name="Oversight", kind="oversight", actor=ADMIN
    )
    ledger.register_party(party_id="supplier-2", name="Other", kind="supplier", actor=ADMIN)
    conclude_agreement(ledger, "eua-2", "Programme Two", ["force"], supplier="supplier-2")
    return ledger


def public_key() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def held_by(ledger: Ledger, holder: str) -> UUID:
    return issue(ledger, f"SN-{next(_serials)}", recipient=holder)


def lost(ledger: Ledger) -> UUID:
    item = held_by(ledger, "outsider")
    ledger.report_lost(item, circumstances="stolen", occurred_at=ago(ledger, days=2), actor=ADMIN)
    return item


def issue_under(ledger: Ledger, actor: Actor, agreement: str) -> Act:
    return lambda: ledger.issue(
        serial=f"SN-{next(_serials)}",
        manufacturer="Maker",
        model="M1",
        category="rifle",
        agreement=agreement,
        recipient="force",
        occurred_at=ago(ledger, days=1),
        actor=actor,
    )


def transfer(ledger: Ledger, actor: Actor, holder: str) -> Act:
    item = held_by(ledger, holder)
    return lambda: ledger.transfer(item, to="unit-2", occurred_at=ago(ledger, days=1), actor=actor)


def receive(ledger: Ledger, actor: Actor, holder: str) -> Act:
    item = held_by(ledger, holder)
    return lambda: ledger.receive(item, occurred_at=ago(ledger, days=1), actor=actor)


def report_lost(ledger: Ledger, actor: Actor, holder: str) -> Act:
    item = held_by(ledger, holder)
    return lambda: ledger.report_lost(
        item, circumstances="missing", occurred_at=ago(ledger, days=1), actor=actor
    )


def dispose(ledger: Ledger, actor: Actor, holder: str) -> Act:
    item = held_by(ledger, holder)
    return lambda: ledger.dispose(
        item, method="destroyed", occurred_at=ago(ledger, days=1), actor=actor
    )


def inspect(ledger: Ledger, actor: Actor, holder: str, method: str) -> Act:
    item = held_by(ledger, holder)
    return lambda: ledger.inspect(
        item, result="verified", method=method, occurred_at=ago(ledger, days=1), actor=actor
    )


HOLDERS = {"itself": "force", "its_unit": "unit-1", "another_party": "outsider"}
"""Who holds the item in the three cases of `holder_cases`."""


def held_by_cases(
    case: str, arrange: Callable[..., Act]
) -> dict[str, Callable[[Ledger, Actor], Act]]:
    """The arrangements of the three `holder_cases` of `case`: `arrange` on an item held by force
    itself, by its unit, by outsider."""
    return {
        f"{case}_held_by_{whose}": partial(arrange, holder=holder)
        for whose, holder in HOLDERS.items()
    }


def recover(ledger: Ledger, actor: Actor, by: str) -> Act:
    item = lost(ledger)
    return lambda: ledger.recover(item, by=by, occurred_at=ago(ledger, days=1), actor=actor)


def sight(ledger: Ledger, actor: Actor) -> Act:
    item = lost(ledger)
    return lambda: ledger.sight(
        item, observer=actor.party, location="market", occurred_at=ago(ledger, days=1), actor=actor
    )


PRIVATE_KEYS: dict[str, Ed25519PrivateKey] = {}
"""key id -> its private key, for endorsing the next key of a party that has one (a rotation)."""


def proved_key(ledger: Ledger, party: str) -> dict[str, str]:
    """A new key's registration body, endorsed by an active key of the party if it has one."""
    new = Ed25519PrivateKey.generate()
    PRIVATE_KEYS[key_id(new.public_key().public_bytes_raw())] = new
    active = ledger.party(party).active_keys(ledger.clock())
    endorsing = PRIVATE_KEYS[active[0].key_id] if active else None
    return prove_key(new, origin=ledger.origin, party=party, endorsing_key=endorsing)


def register_key(ledger: Ledger, actor: Actor, party: str) -> Act:
    proved = proved_key(ledger, party)
    return lambda: ledger.register_key(party=party, actor=actor, **proved)[1]


def revoke_key(ledger: Ledger, actor: Actor, party: str) -> Act:
    key, _ = ledger.register_key(party=party, actor=ADMIN, **proved_key(ledger, party))
    return lambda: ledger.revoke_key(party=party, key=key, reason="rotated", actor=actor)


def revoke_token(ledger: Ledger, actor: Actor, party: str, role: Role) -> Act:
    _, granted = ledger.grant_token(party=party, role=role.value, actor=ADMIN)
    return lambda: ledger.revoke_token(granted.id, actor=actor)


def correct_entry_of(ledger: Ledger, actor: Actor, recorder: str) -> Act:
    """`recorder` records an entry (set up with an admin-role actor of that party), then `actor`
    corrects it."""
    item = held_by(ledger, "unit-1")
    entry = ledger.receive(
        item, occurred_at=ago(ledger, days=2), actor=Actor(recorder, ADMIN_ROLE)
    ).log_index
    return lambda: ledger.correct(item, entry=entry, reason="wrong date", actor=actor)


ARRANGE: dict[str, Callable[[Ledger, Actor], Act]] = {
    "register_party": lambda ledger, actor: (
        lambda: ledger.register_party(
            party_id="unit-9", name="Unit nine", kind="recipient", parent="force", actor=actor
        )
    ),
    "conclude_agreement": lambda ledger, actor: (
        lambda: ledger.conclude_agreement(
            agreement_id="eua-9",
            supplier="supplier",
            programme="Programme Nine",
            authorized_holders=["force"],
            actor=actor,
        )
    ),
    "grant_token": lambda ledger, actor: (
        lambda: ledger.grant_token(party="unit-2", role="partner", actor=actor)[1]
    ),
    "register_key_for_itself": lambda ledger, actor: register_key(ledger, actor, actor.party),
    "register_key_for_another_party": lambda ledger, actor: register_key(ledger, actor, "outsider"),
    "revoke_key_of_itself": lambda ledger, actor: revoke_key(ledger, actor, actor.party),
    "revoke_key_of_another_party": lambda ledger, actor: revoke_key(ledger, actor, "outsider"),
    "revoke_own_token": lambda ledger, actor: revoke_token(ledger, actor, actor.party, actor.role),
    "revoke_another_partys_token": lambda ledger, actor: revoke_token(
        ledger, actor, "outsider", PARTNER
    ),
    "issue_under_own_agreement": lambda ledger, actor: issue_under(ledger, actor, "eua-1"),
    "issue_under_another_suppliers_agreement": lambda ledger, actor: issue_under(
        ledger, actor, "eua-2"
    ),
    **held_by_cases("transfer", transfer),
    **held_by_cases("receive", receive),
    **held_by_cases("report_lost", report_lost),
    **held_by_cases("dispose", dispose),
    "inspect_physically_held_by_its_unit": lambda ledger, actor: inspect(
        ledger, actor, "unit-1", "physical"
    ),
    "inspect_physically_held_by_another_party": lambda ledger, actor: inspect(
        ledger, actor, "outsider", "physical"
    ),
    **held_by_cases("self_report", partial(inspect, method="self_report")),
    "recover_by_itself": lambda ledger, actor: recover(ledger, actor, actor.party),
    "recover_by_its_unit": lambda ledger, actor: recover(ledger, actor, "unit-1"),
    "recover_by_another_party": lambda ledger, actor: recover(ledger, actor, "outsider"),
    "sight": sight,
    "correct_own_entry": lambda ledger, actor: correct_entry_of(ledger, actor, actor.party),
    "correct_another_partys_entry": lambda ledger, actor: correct_entry_of(
        ledger, actor, "outsider"
    ),
}

CASES = [(case, role) for case in MATRIX for role in Role]


def entry_at(ledger: Ledger, log_index: int) -> dict[str, Any]:
    (row,) = ledger.log_store.log_entries(log_index, log_index + 1)
    return decode_entry(row.entry)


def test_the_matrix_covers_every_role_and_every_use_case() -> None:
    assert set(MATRIX) == set(ARRANGE)
    assert set(ACTORS) == set(Role)


@pytest.mark.parametrize(("case", "role"), CASES, ids=[f"{c}-{r.value}" for c, r in CASES])
def test_each_role_may_do_exactly_what_the_matrix_says_and_nothing_else(
    ledger: Ledger, case: str, role: Role
) -> None:
    verb, outcomes = MATRIX[case]
    expected = outcomes.get(role, re.escape(ROLE_REFUSED.format(role=role.value, verb=verb)))
    actor = ACTORS[role]
    act = ARRANGE[case](ledger, actor)
    size = ledger.log_store.log_size()

    if expected is OK:
        recorded = act()

        assert recorded.log_index == size
        assert ledger.log_store.log_size() == size + 1
        assert entry_at(ledger, recorded.log_index)["actor"] == actor.party
    else:
        with pytest.raises(Unauthorised, match=f"^{expected}$"):
            act()

        assert ledger.log_store.log_size() == size


def test_a_partner_acting_for_a_unit_may_not_write_for_its_parent_or_a_sister_unit(
    ledger: Ledger,
) -> None:
    unit = Actor("unit-1", PARTNER)
    at_parent = held_by(ledger, "force")
    at_sister = held_by(ledger, "unit-2")
    size = ledger.log_store.log_size()

    for item, holder in ((at_parent, "force"), (at_sister, "unit-2")):
        with pytest.raises(
            Unauthorised,
            match=f"^unit-1 may receive only items it holds; this one is held by {holder}$",
        ):
            ledger.receive(item, occurred_at=ago(ledger, days=1), actor=unit)

    assert ledger.log_store.log_size() == size


def test_no_role_but_admin_sees_another_partys_tokens(ledger: Ledger) -> None:
    for role, actor in ACTORS.items():
        ledger.grant_token(party=actor.party, role=role.value, actor=ADMIN)
    ledger.grant_token(party="outsider", role="partner", actor=ADMIN)

    seen = {role: {t.party for t in ledger.tokens(actor=actor)} for role, actor in ACTORS.items()}

    assert seen[ADMIN_ROLE] == {a.party for a in ACTORS.values()} | {"outsider"}
    for role, actor in ACTORS.items():
        if role is not ADMIN_ROLE:
            assert seen[role] == {actor.party}, role


def test_every_entry_of_a_busy_ledger_names_a_registered_party_as_its_actor(
    ledger: Ledger,
) -> None:
    for case, (_, outcomes) in MATRIX.items():
        for role, expected in outcomes.items():
            if expected is OK and not case.startswith(("register_party", "conclude")):
                ARRANGE[case](ledger, ACTORS[role])()

    entries = [
        decode_entry(row.entry)
        for row in ledger.log_store.log_entries(0, ledger.log_store.log_size())
    ]

    registered = {e["payload"]["party_id"] for e in entries if e["type"] == Party.Registered.TOPIC}
    actors = {e["actor"] for e in entries}
    assert len(entries) > 100
    assert actors <= registered
    assert {actor.party for actor in ACTORS.values()} <= actors
