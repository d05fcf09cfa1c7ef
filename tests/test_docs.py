"""The docs' code runs and agrees with the code: the ten-line signing example of docs/signing.md."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.integrity.submissions import Submission, key_id

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks(name: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(encoding="utf-8"), re.S)


def test_the_ten_line_signing_example_signs_exactly_what_the_ledger_checks() -> None:
    (example,) = python_blocks("signing.md")
    seed, item = b"\x01" * 32, "7946369e-e38a-5f59-8d36-261bf10667f1"
    scope = {"SEED": seed, "ORIGIN": "localhost/custody", "ITEM": item, "NONCE": "inspection-0001"}

    exec(example, scope)

    assert len(example.strip().splitlines()) == 10
    key = Ed25519PrivateKey.from_private_bytes(seed)
    ours = Submission(
        "localhost/custody",
        "unit-1",
        key_id(key.public_key().public_bytes_raw()),
        "inspect",
        item,
        "inspection-0001",
        scope["body"],
    )
    assert scope["data"] == ours.to_bytes()
    value = base64.b64decode(scope["request"]["signature"]["value"])
    key.public_key().verify(value, ours.to_bytes())


def test_the_architecture_names_every_module_of_the_ledger_and_only_modules_that_exist() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    root = DOCS.parent

    named = set(re.findall(r"`((?:ledger|api|policies|custody_cli)/[\w/]+\.py|cli\.py)`", text))

    modules = {p.relative_to(root).as_posix() for p in (root / "ledger").rglob("[!_]*.py")}
    assert sorted(modules - named) == []
    assert sorted(p for p in named if not (root / p).exists()) == []
