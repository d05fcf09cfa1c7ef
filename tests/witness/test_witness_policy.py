"""Witness policies (c2sp.org/tlog-policy) and the quorum check.

Vectors: the example policy of c2sp.org/tlog-policy ("Example policy"), the cases of
transparency-dev/formats policy/tlog_policy_test.go (TestUnmarshal, TestUnmarshal_Errors,
TestSatisfied), and the production cosigned checkpoint of tests/witness/test_cosignatures.py
(florolf/tlog-scales) under a policy naming its log and one of its witnesses.
"""

from __future__ import annotations

import base64
import re
from itertools import combinations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.errors import InvalidInput, ProofError
from ledger.integrity.checkpoints import Checkpoint, sign_checkpoint
from ledger.integrity.notes import sign_note
from ledger.integrity.signing import Signer
from ledger.witness.cosignatures import CosignerKey, cosign
from ledger.witness.witness_policy import (
    PolicyGroup,
    PolicyLog,
    PolicyWitness,
    WitnessCosignature,
    WitnessPolicy,
    check_quorum,
    parse_policy,
    verify_policy_checkpoint,
)
from tests.witness.test_cosignatures import ARCHE_NOTE, ARCHE_VKEY, REMORA_TIMESTAMP, REMORA_VKEY

ORIGIN = "custody.example/log"
LOG = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x01" * 32))
WITNESSES = {
    name: CosignerKey(f"{name}.example", Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32))
    for i, name in enumerate(["X1", "X2", "X3", "Y1", "Y2", "Y3"], start=10)
}
VKEYS = {name: key.verifier.vkey for name, key in WITNESSES.items()}
CHECKPOINT = Checkpoint(ORIGIN, 42, bytes(32))
NOTE = sign_checkpoint(CHECKPOINT, LOG)

SPEC_EXAMPLE = f"""log {LOG.verifier.vkey}

witness X1 {VKEYS["X1"]}
witness X2 {VKEYS["X2"]}
witness X3 {VKEYS["X3"]}
group X-witnesses 2 X1 X2 X3

witness Y1 {VKEYS["Y1"]}
witness Y2 {VKEYS["Y2"]}
witness Y3 {VKEYS["Y3"]}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""


def cosigned_by(*names: str, note: str = NOTE) -> str:
    lines = (
        cosign(CHECKPOINT.to_text(), WITNESSES[n], timestamp=100 + i) for i, n in enumerate(names)
    )
    return note + "".join(lines)


def flat(k: str, count: int = 3) -> WitnessPolicy:
    names = list(WITNESSES)[:count]
    lines = "".join(f"witness {n} {VKEYS[n]}\n" for n in names)
    return parse_policy(f"{lines}group g {k} {' '.join(names)}\nquorum g\n")


# Parsing


def test_the_spec_example_policy_parses_into_its_logs_witnesses_groups_and_quorum() -> None:
    policy = parse_policy(SPEC_EXAMPLE)

    assert policy.logs == (PolicyLog(LOG.verifier),)
    assert [w.name for w in policy.witnesses] == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert policy.groups == (
        PolicyGroup("X-witnesses", 2, ("X1", "X2", "X3")),
        PolicyGroup("Y-witnesses", 1, ("Y1", "Y2", "Y3")),
        PolicyGroup("X-and-Y", 2, ("X-witnesses", "Y-witnesses")),
    )
    assert policy.quorum == "X-and-Y"
    assert policy.logs[0].origin == ORIGIN


def test_comments_blank_lines_tabs_and_urls_are_understood() -> None:
    text = (
        f"\n# comment\n\t # another comment\n\twitness \t w1  {VKEYS['X1']}"
        "   https://w1.example.com/  \n\n  quorum\tw1"
    )

    policy = parse_policy(text)

    assert policy.witnesses == (
        PolicyWitness("w1", WITNESSES["X1"].verifier, "https://w1.example.com/"),
    )
    assert policy.quorum == "w1"


def test_quorum_none_alone_is_a_policy_that_needs_no_cosignature() -> None:
    assert parse_policy("quorum none\n") == WitnessPolicy((), (), (), "none")


def test_keywords_other_than_none_are_names_and_octets_above_0x7f_are_opaque() -> None:
    text = (
        f"witness all {VKEYS['X1']}\nwitness any {VKEYS['X2']}\n".encode()
        + f"witness K\x80 {VKEYS['X3']}\n".encode("latin-1")
        + b"group group 2 all any K\x80\nquorum group\n"
    )

    policy = parse_policy(text)

    assert [w.name for w in policy.witnesses] == ["all", "any", "K\udc80"]
    assert policy.groups == (PolicyGroup("group", 2, ("all", "any", "K\udc80")),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the policy has no quorum line: write `quorum none` to require no cosignature"),
        ("# only a comment\n", "the policy has no quorum line"),
        (f"witness w1 {VKEYS['X1']}\n", "the policy has no quorum line"),
        ("quorum none\n\x01", "policy contains the control character U+0001 at character 12"),
        ("quorum none\r\n", "policy contains the control character U+000D"),
        ("quorum none\n\x7f\n", "policy contains the control character U+007F"),
        ("quibble w1\nquorum none\n", "policy line 1: unknown keyword 'quibble'"),
        (
            f"witness w1 {VKEYS['X1']} https://w1.example.com/ # comment\nquorum w1\n",
            "policy line 1: a witness line is 'witness <name> <vkey> [<url>]'",
        ),
        ("log\nquorum none\n", "policy line 1: a log line is 'log <vkey> [<url>]'"),
        ("log garbage\nquorum none\n", "policy line 1: verifier key must have the form"),
        (
            f"log {VKEYS['X1']}\nquorum none\n",
            "policy line 1: verifier key has signature type 0x04; expected 0x01 (Ed25519)",
        ),
        (
            f"log {LOG.verifier.vkey}\nlog {LOG.verifier.vkey} https://log.example/\nquorum none",
            "policy line 2: two logs have the same public key (custody.example/log)",
        ),
        ("witness w1\nquorum none\n", "policy line 1: a witness line is"),
        (
            f"witness w1 {LOG.verifier.vkey}\nquorum w1\n",
            "policy line 1: cosigner verifier key has signature type 0x01; expected 0x04",
        ),
        (
            f"witness none {VKEYS['X1']}\nquorum none\n",
            "policy line 1: 'none' is predefined: no witness or group may take the name",
        ),
        (
            f"witness w1 {VKEYS['X1']}\nwitness w1 {VKEYS['X2']}\nquorum w1\n",
            "policy line 2: the name 'w1' is defined twice",
        ),
        (
            f"witness w1 {VKEYS['X1']}\ngroup w1 any w1\nquorum w1\n",
            "policy line 2: the name 'w1' is defined twice",
        ),
        (f"witness w1 {VKEYS['X1']}\ngroup g1 1\nquorum w1\n", "policy line 2: a group line is"),
        (
            f"witness w1 {VKEYS['X1']}\ngroup none any w1\nquorum none\n",
            "policy line 2: 'none' is predefined",
        ),
        (
            f"witness w1 {VKEYS['X1']}\ngroup g1 0 w1\nquorum g1\n",
            "policy line 2: group 'g1' threshold '0' is not a decimal number, 'all' or 'any'",
        ),
        (
            f"witness w1 {VKEYS['X1']}\ngroup g1 -1 w1\nquorum g1\n",
            "group 'g1' threshold '-1' is not a decimal number",
        ),
        (
            f"witness w1 {VKEYS['X1']}\ngroup g1 2 w1\nquorum g1\n",
            "policy line 2: group 'g1' threshold 2 is not from 1 to 1, its number of members",
        ),
        (
            f"witness w1 {VKEYS['X1']}\ngroup g1 any w2\nquorum g1\n",
            "policy line 2: group 'g1' member 'w2' is not a witness or group defined on an earlier",
        ),
        (
            f"group g1 any w1\nwitness w1 {VKEYS['X1']}\nquorum g1\n",
            "policy line 1: group 'g1' member 'w1' is not a witness or group defined",
        ),
        (
            f"witness w1 {VKEYS['X1']}\ngroup g1 any none w1\nquorum g1\n",
            "group 'g1' member 'none' is not a witness or group defined",
        ),
        (
            f"witness w1 {VKEYS['X1']}\ngroup g1 all w1 w1\nquorum g1\n",
            "policy line 2: 'w1' is listed as a group member more than once",
        ),
        (
            f"witness w1 {VKEYS['X1']}\nwitness w2 {VKEYS['X2']}\n"
            "group g1 any w1 w2\ngroup g2 any w1\nquorum g1\n",
            "policy line 4: 'w1' is listed as a group member more than once",
        ),
        (
            f"witness w1 {VKEYS['X1']}\nquorum w1\nquorum w1\n",
            "policy line 3: a policy has exactly one quorum line; this is another",
        ),
        ("quorum unknown\n", "policy line 1: quorum 'unknown' is not a witness or group defined"),
        (f"quorum w1\nwitness w1 {VKEYS['X1']}\n", "policy line 1: quorum 'w1' is not a witness"),
        ("quorum\n", "policy line 1: a quorum line is 'quorum <name>'"),
        ("quorum a b\n", "policy line 1: a quorum line is 'quorum <name>'"),
        (
            f"witness w1 {VKEYS['X1']}\ngroup g any g w1\nquorum g\n",
            "policy line 2: group 'g' member 'g' is not a witness or group defined",
        ),
    ],
)
def test_a_policy_that_breaks_a_rule_of_the_spec_is_refused_saying_which_line_and_why(
    text: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse_policy(text)


def test_two_witnesses_wrapping_one_public_key_under_other_names_are_refused() -> None:
    same = CosignerKey("impostor.example", Ed25519PrivateKey.from_private_bytes(bytes([10]) * 32))
    text = f"witness w1 {VKEYS['X1']}\nwitness w2 {same.verifier.vkey}\nquorum w1\n"

    with pytest.raises(InvalidInput, match="policy line 2: two witnesses have the same public key"):
        parse_policy(text)


def test_an_ml_dsa_witness_key_is_refused_as_unsupported_here() -> None:
    vkey = "witness.example/w1+7118e8f9+" + base64.b64encode(b"\x06" + bytes(1312)).decode()

    with pytest.raises(InvalidInput, match="signature type 0x06; expected 0x04"):
        parse_policy(f"witness w1 {vkey}\nquorum w1\n")


def test_a_policy_built_in_code_without_a_defined_quorum_fails_closed() -> None:
    witness = PolicyWitness("w1", WITNESSES["X1"].verifier)

    for quorum in ("", "w2"):
        with pytest.raises(InvalidInput, match="is not a witness or group defined"):
            WitnessPolicy((), (witness,), (), quorum)


def test_a_policy_larger_than_64_kib_is_refused() -> None:
    with pytest.raises(InvalidInput, match="policy is 65548 bytes; the limit is 65536"):
        parse_policy("#" * 65536 + "\nquorum none")


# The quorum


def test_a_checkpoint_cosigned_by_a_quorum_gives_every_valid_cosignature_in_policy_order() -> None:
    policy = parse_policy(SPEC_EXAMPLE)

    cosigned = check_quorum(policy, cosigned_by("Y3", "X3", "X1"), CHECKPOINT)

    assert cosigned == [
        WitnessCosignature("X1", 102),
        WitnessCosignature("X3", 101),
        WitnessCosignature("Y3", 100),
    ]


def test_a_group_short_of_its_threshold_is_refused_naming_who_cosigned() -> None:
    with pytest.raises(ProofError, match="witness quorum g is not met") as caught:
        check_quorum(flat("2"), cosigned_by("X2"), CHECKPOINT)

    assert caught.value.message == (
        "witness quorum g is not met: 2 of 3 witnesses required, 1 valid cosignature: X2"
    )


def test_no_cosignature_at_all_is_refused() -> None:
    with pytest.raises(ProofError, match="witness quorum g is not met") as caught:
        check_quorum(flat("all"), NOTE, CHECKPOINT)

    assert caught.value.message == (
        "witness quorum g is not met: 3 of 3 witnesses required, 0 valid cosignatures"
    )


def test_an_unmet_nested_group_is_explained_down_to_its_witnesses() -> None:
    with pytest.raises(ProofError, match="witness quorum X-and-Y is not met") as caught:
        check_quorum(parse_policy(SPEC_EXAMPLE), cosigned_by("X2", "Y1"), CHECKPOINT)

    assert caught.value.message == (
        "witness quorum X-and-Y is not met: 2 of 2 members required, 1 met: Y-witnesses; "
        "X-witnesses: 2 of 3 witnesses required, 1 valid cosignature: X2"
    )


def test_a_single_witness_quorum_is_refused_without_its_cosignature() -> None:
    policy = parse_policy(f"witness w1 {VKEYS['X1']}\nwitness w2 {VKEYS['X2']}\nquorum w1\n")

    with pytest.raises(ProofError, match="witness quorum w1 is not met") as caught:
        check_quorum(policy, cosigned_by("X2"), CHECKPOINT)

    assert caught.value.message == (
        "witness quorum w1 is not met: a cosignature by w1 is required, none is valid"
    )


@pytest.mark.parametrize(
    ("cosigners", "met"),
    [
        (("X1", "X2", "X3"), True),  # all witnesses
        (("X1", "X3"), True),  # minimum satisfying set
        (("X1",), False),  # outer member without inner group
        (("X2", "X3"), False),  # inner group without outer member
        ((), False),  # no cosignatures
    ],
)
def test_the_transparency_dev_nested_quorum_table(cosigners: tuple[str, ...], met: bool) -> None:
    policy = parse_policy(
        f"witness w1 {VKEYS['X1']}\nwitness w2 {VKEYS['X2']}\nwitness w3 {VKEYS['X3']}\n"
        "group inner any w2 w3\ngroup outer all w1 inner\nquorum outer\n"
    )

    if met:
        assert len(check_quorum(policy, cosigned_by(*cosigners), CHECKPOINT)) == len(cosigners)
    else:
        with pytest.raises(ProofError, match="witness quorum outer is not met"):
            check_quorum(policy, cosigned_by(*cosigners), CHECKPOINT)


def test_quorum_none_passes_with_whatever_valid_cosignatures_there_are() -> None:
    policy = parse_policy(f"witness w1 {VKEYS['X1']}\nquorum none\n")

    assert check_quorum(policy, NOTE, CHECKPOINT) == []
    assert check_quorum(policy, cosigned_by("X1"), CHECKPOINT) == [WitnessCosignature("w1", 100)]


def test_a_bad_cosignature_by_a_policy_witness_refuses_the_checkpoint_even_if_not_needed() -> None:
    forged = cosigned_by("X1", "X2").replace("\n42\n", "\n43\n", 1)
    other = Checkpoint(ORIGIN, 43, bytes(32))

    with pytest.raises(ProofError, match="cosignature does not verify"):
        check_quorum(flat("any"), forged, other)


def test_a_cosigned_note_of_another_checkpoint_is_refused() -> None:
    other = Checkpoint(ORIGIN, 43, bytes(32))

    with pytest.raises(ProofError, match="the cosigned note is of another checkpoint"):
        check_quorum(flat("any"), cosigned_by("X1"), other)


# The whole rule: a log of the policy, and the quorum


def test_a_production_checkpoint_is_valid_under_a_policy_of_its_log_and_one_witness() -> None:
    policy = parse_policy(f"log {ARCHE_VKEY}\nwitness remora {REMORA_VKEY}\nquorum remora\n")

    checkpoint, cosigned = verify_policy_checkpoint(policy, ARCHE_NOTE)

    assert (checkpoint.origin, checkpoint.size) == (
        "arche2025h1.staging.ct.transparency.dev",
        1432088532,
    )
    assert cosigned == [WitnessCosignature("remora", REMORA_TIMESTAMP)]


def test_a_checkpoint_not_signed_by_a_log_of_the_policy_is_refused() -> None:
    other = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x07" * 32))
    policy = parse_policy(f"log {other.verifier.vkey}\nquorum none\n")

    with pytest.raises(ProofError, match="note is not signed by any known key"):
        verify_policy_checkpoint(policy, NOTE)


def test_a_checkpoint_whose_origin_is_not_its_log_key_name_is_refused() -> None:
    log = Signer("another.example/log", Ed25519PrivateKey.from_private_bytes(b"\x01" * 32))
    policy = parse_policy(f"log {log.verifier.vkey}\nquorum none\n")

    with pytest.raises(
        ProofError, match="checkpoint origin is not the name of the log key that signed it"
    ) as caught:
        verify_policy_checkpoint(policy, sign_note(CHECKPOINT.to_text(), [log]))

    assert caught.value.message == (
        "checkpoint origin is not the name of the log key that signed it: "
        "expected 'another.example/log', got 'custody.example/log'"
    )


def test_a_policy_without_logs_cannot_validate_a_checkpoint_alone() -> None:
    with pytest.raises(InvalidInput, match="the policy lists no log"):
        verify_policy_checkpoint(parse_policy("quorum none\n"), NOTE)


def test_a_valid_checkpoint_under_the_spec_example_gives_the_cosignatures() -> None:
    policy = parse_policy(SPEC_EXAMPLE)

    checkpoint, cosigned = verify_policy_checkpoint(policy, cosigned_by("X1", "X2", "Y2"))

    assert checkpoint == CHECKPOINT
    assert [c.witness for c in cosigned] == ["X1", "X2", "Y2"]


# Properties


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 6),
    data=st.data(),
)
def test_a_k_of_n_group_is_met_exactly_when_at_least_k_witnesses_cosign(
    count: int, data: st.DataObject
) -> None:
    k = data.draw(st.integers(1, count))
    names = list(WITNESSES)[:count]
    cosigners = data.draw(st.lists(st.sampled_from(names), unique=True))
    policy = flat(str(k), count)

    if len(cosigners) >= k:
        assert len(check_quorum(policy, cosigned_by(*cosigners), CHECKPOINT)) == len(cosigners)
    else:
        with pytest.raises(ProofError, match=f"{k} of {count} witnesses required"):
            check_quorum(policy, cosigned_by(*cosigners), CHECKPOINT)


def test_the_spec_example_quorum_is_met_by_exactly_two_x_and_one_y() -> None:
    policy = parse_policy(SPEC_EXAMPLE)

    for size in range(7):
        for cosigners in combinations(WITNESSES, size):
            xs = sum(n.startswith("X") for n in cosigners)
            ys = sum(n.startswith("Y") for n in cosigners)
            try:
                check_quorum(policy, cosigned_by(*cosigners), CHECKPOINT)
                met = True
            except ProofError:
                met = False
            assert met == (xs >= 2 and ys >= 1), cosigners


def test_a_policy_may_list_at_most_256_witnesses() -> None:
    keys = [CosignerKey(f"w{i}.example", Ed25519PrivateKey.generate()) for i in range(257)]
    text = "".join(f"witness w{i} {k.verifier.vkey}\n" for i, k in enumerate(keys))

    with pytest.raises(
        InvalidInput, match="policy line 257: a policy may list at most 256 witnesses"
    ):
        parse_policy(text + "quorum w0\n")
