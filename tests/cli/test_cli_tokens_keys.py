"""`custody token create/list/revoke`, `custody keygen` and `custody submit`, on a store made by
`custody init` in a temporary directory."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.main import create_app
from custody_cli import app
from ledger.application.ledger import Ledger
from ledger.domain.errors import Unauthenticated
from ledger.domain.times import system_clock
from ledger.integrity.endorsements import prove_key
from ledger.integrity.signing import Signer, read_private_key_file
from ledger.store.config import DEFAULT_ORIGIN
from tests.e2e.test_serve import free_port, wait_until_up
from tests.programme import ADMIN

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
TOKEN_LINE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}  \S+  \S+  (active|revoked)$"
)


class Store:
    """An initialised store in a temporary directory: its URL, files and admin token."""

    def __init__(self, directory: Path, admin_token: str) -> None:
        self.directory = directory
        self.url = f"sqlite:///{directory / 'custody.db'}"
        self.admin_token = admin_token

    def ledger(self) -> Ledger:
        key = Signer.from_text(read_private_key_file(self.directory / "custody.key"))
        return Ledger(clock=system_clock, db=self.url, signer=key)

    def log_size(self) -> int:
        ledger = self.ledger()
        try:
            return ledger.log_store.log_size()
        finally:
            ledger.close()

    def bytes(self) -> bytes:
        """Everything on disk: the database and any journal or WAL files beside it."""
        return b"".join(p.read_bytes() for p in sorted(self.directory.glob("custody.db*")))


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("CUSTODY_DB", f"sqlite:///{tmp_path / 'custody.db'}")
    monkeypatch.setenv("CUSTODY_KEY", str(tmp_path / "custody.key"))
    init = runner.invoke(app, ["init", "--json"])
    assert init.exit_code == 0, init.output
    made = Store(tmp_path, json.loads(init.stdout)["admin_token"])
    ledger = made.ledger()
    ledger.register_party(party_id="unit-1", name="Unit one", kind="recipient", actor=ADMIN)
    ledger.register_party(party_id="inspectorate", name="Insp.", kind="inspector", actor=ADMIN)
    ledger.close()
    yield made


def create(party: str, role: str) -> tuple[str, str]:
    """`custody token create`; answers the token and the token id."""
    result = runner.invoke(app, ["token", "create", "--party", party, "--role", role])
    assert result.exit_code == 0, result.output
    found = re.fullmatch(
        rf"token (\S+) for {party} as {role} \(shown once\):\n", result.stderr, re.MULTILINE
    )
    assert found, result.stderr
    return result.stdout.strip(), found.group(1)


def listed() -> list[str]:
    result = runner.invoke(app, ["token", "list"])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


# token create -------------------------------------------------------------------------------------


def test_token_create_prints_the_token_once_on_stdout_and_stores_only_its_hash(
    store: Store,
) -> None:
    result = runner.invoke(app, ["token", "create", "--party", "unit-1", "--role", "partner"])

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    assert token.startswith("cst_") and len(token) > 40
    assert token not in result.stderr
    on_disk = store.bytes()
    assert token.encode() not in on_disk
    assert hashlib.sha256(token.encode()).hexdigest().encode() in on_disk
    ledger = store.ledger()
    actor = ledger.authenticate(token)
    ledger.close()
    assert (actor.party, actor.role.value) == ("unit-1", "partner")


def test_the_admin_token_of_init_is_not_on_disk_either(store: Store) -> None:
    on_disk = store.bytes() + (store.directory / "custody.key").read_bytes()

    assert store.admin_token.encode() not in on_disk
    assert hashlib.sha256(store.admin_token.encode()).hexdigest().encode() in on_disk


@pytest.mark.parametrize(
    ("party", "role", "message"),
    [
        ("nobody", "partner", "custody: party nobody not found"),
        ("unit-1", "inspector", "custody: a party of kind recipient may hold the roles: partner"),
        (
            "inspectorate",
            "admin",
            "custody: a party of kind inspector may hold the roles: inspector",
        ),
        (
            "unit-1",
            "root",
            "custody: role 'root' is not one of: admin, supplier, partner, inspector, oversight, "
            "investigator",
        ),
        (
            "bad party",
            "partner",
            "custody: party id 'bad party' must be 1 to 100 letters, digits, '.', '_', ':' or '-',"
            " starting with a letter or digit",
        ),
    ],
)
def test_token_create_refuses_a_bad_party_or_role_in_one_line_and_records_nothing(
    store: Store, party: str, role: str, message: str
) -> None:
    size = store.log_size()

    result = runner.invoke(app, ["token", "create", "--party", party, "--role", role])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == message
    assert store.log_size() == size


# token list ---------------------------------------------------------------------------------------


def test_token_list_shows_each_tokens_id_party_role_and_state_but_never_a_token(
    store: Store,
) -> None:
    partner, partner_id = create("unit-1", "partner")
    inspector, inspector_id = create("inspectorate", "inspector")

    lines = listed()

    assert len(lines) == 3  # the operator's admin token from init, and these two
    assert all(TOKEN_LINE.match(line) for line in lines), lines
    assert f"{partner_id}  unit-1  partner  active" in lines
    assert f"{inspector_id}  inspectorate  inspector  active" in lines
    assert sum(line.endswith("  operator  admin  active") for line in lines) == 1
    printed = "\n".join(lines)
    for token in (partner, inspector, store.admin_token):
        assert token not in printed


# token revoke -------------------------------------------------------------------------------------


def test_token_revoke_turns_the_token_away_and_list_shows_it_revoked(store: Store) -> None:
    token, token_id = create("unit-1", "partner")

    result = runner.invoke(app, ["token", "revoke", token_id])

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"revoked {token_id}"
    assert f"{token_id}  unit-1  partner  revoked" in listed()
    ledger = store.ledger()
    with pytest.raises(Unauthenticated, match="^token revoked$"):
        ledger.authenticate(token)
    ledger.close()


def test_a_revoked_token_is_refused_by_the_api_with_401(store: Store) -> None:
    token, token_id = create("unit-1", "partner")
    runner.invoke(app, ["token", "revoke", token_id])
    ledger = store.ledger()

    with TestClient(create_app(ledger), raise_server_exceptions=False) as http:
        response = http.get("/v1/tokens", headers={"Authorization": f"Bearer {token}"})

    ledger.close()
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "unauthenticated", "message": "token revoked"}}


def test_token_revoke_twice_or_of_an_unknown_or_malformed_id_is_one_line_and_exit_1(
    store: Store,
) -> None:
    _, token_id = create("unit-1", "partner")
    runner.invoke(app, ["token", "revoke", token_id])
    unknown = "00000000-0000-4000-8000-000000000000"
    size = store.log_size()

    twice = runner.invoke(app, ["token", "revoke", token_id])
    missing = runner.invoke(app, ["token", "revoke", unknown])
    malformed = runner.invoke(app, ["token", "revoke", "not-an-id"])

    assert (twice.exit_code, twice.stderr.strip()) == (
        1,
        f"custody: token {token_id} was revoked already",
    )
    assert (missing.exit_code, missing.stderr.strip()) == (1, f"custody: token {unknown} not found")
    assert malformed.exit_code == 1
    assert malformed.stderr.startswith("custody: ") and len(malformed.stderr.splitlines()) == 1
    assert "not-an-id" in malformed.stderr
    assert store.log_size() == size


# keygen -------------------------------------------------------------------------------------------


def registration(key_file: Path, party: str) -> dict[str, str]:
    """The registration body of the key in `key_file` (as `custody keygen --origin` prints it)."""
    signer = Signer.from_text(read_private_key_file(key_file))
    return prove_key(signer.private_key, origin=DEFAULT_ORIGIN, party=party)


def keygen(party: str, output: Path, *extra: str) -> tuple[str, str]:
    """`custody keygen`; answers the public key and key id it printed, never the private key."""
    result = runner.invoke(app, ["keygen", "--party", party, "-o", str(output), *extra])
    assert result.exit_code == 0, result.output
    public = re.search(r"^public key: (\S+)$", result.stdout, re.MULTILINE)
    key_id = re.search(r"^key id: ([0-9a-f]{16})$", result.stdout, re.MULTILINE)
    assert public and key_id, result.stdout
    secret = output.read_text().strip().removeprefix("PRIVATE+KEY+").split("+", 2)[2]
    assert len(secret) == 44
    assert secret not in result.output
    return public.group(1), key_id.group(1)


def test_keygen_writes_a_0600_key_file_and_prints_a_public_key_the_api_accepts(
    store: Store,
) -> None:
    key_file = store.directory / "unit-1.key"

    public, key_id = keygen("unit-1", key_file)
    body = registration(key_file, "unit-1")

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().startswith("PRIVATE+KEY+unit-1+")
    assert len(base64.b64decode(public, validate=True)) == 32
    assert hashlib.sha256(base64.b64decode(public)).hexdigest()[:16] == key_id
    ledger = store.ledger()
    with TestClient(create_app(ledger), raise_server_exceptions=False) as http:
        response = http.post(
            "/v1/parties/unit-1/keys",
            json=body,
            headers={"Authorization": f"Bearer {store.admin_token}"},
        )
    ledger.close()
    assert response.status_code == 201, response.text
    assert response.json()["key_id"] == key_id
    assert response.json()["party"] == "unit-1"


def test_keygen_refuses_to_overwrite_a_file_and_a_bad_party_id(store: Store) -> None:
    existing = store.directory / "taken.key"
    existing.write_text("keep me\n")

    overwrite = runner.invoke(app, ["keygen", "--party", "unit-1", "-o", str(existing)])
    bad_party = runner.invoke(
        app, ["keygen", "--party", "no+plus", "-o", str(store.directory / "x.key")]
    )

    assert overwrite.exit_code == 1
    assert (
        overwrite.stderr.strip() == f"custody: refusing to overwrite the existing file {existing}"
    )
    assert existing.read_text() == "keep me\n"
    assert bad_party.exit_code == 1
    assert bad_party.stderr.strip() == (
        "custody: party id 'no+plus' must be 1 to 100 letters, digits, '.', '_', ':' or '-',"
        " starting with a letter or digit"
    )
    assert not (store.directory / "x.key").exists()


# submit, against `custody serve` -----------------------------------------------------------------


@pytest.fixture
def server(store: Store) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "custody_cli", "serve", "--port", str(port)],
        cwd=store.directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/openapi.json", process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def admin(store: Store, server: str) -> httpx.Client:
    """A client of the server with the store's admin token."""
    return httpx.Client(
        base_url=server, headers={"Authorization": f"Bearer {store.admin_token}"}, timeout=30
    )


def issued_item(store: Store, server: str) -> str:
    """AK-1 issued to unit-1 through the server, whose answer carries a receipt; its id."""
    client = admin(store, server)
    client.post("/v1/parties", json={"id": "supplier", "name": "S", "kind": "supplier"})
    client.post(
        "/v1/agreements",
        json={"id": "eua-1", "supplier": "supplier", "programme": "P", "authorized_holders": []},
    )
    issued = client.post(
        "/v1/items",
        json={
            "serial": "AK-1",
            "manufacturer": "Maker",
            "model": "M1",
            "category": "rifle",
            "agreement": "eua-1",
            "recipient": "unit-1",
            "occurred_at": "2026-01-10T08:00:00Z",
        },
    )
    assert issued.status_code == 201, issued.text
    assert issued.json()["receipt"].startswith("custody-receipt/v1\nlocalhost/custody\n")
    return str(issued.json()["item_id"])


def test_submit_signs_with_the_keygen_key_and_the_entry_verifies_with_the_public_key(
    store: Store, server: str
) -> None:
    operator = admin(store, server)
    item = issued_item(store, server)
    public, _ = keygen("unit-1", store.directory / "unit-1.key")
    body = registration(store.directory / "unit-1.key", "unit-1")
    assert operator.post("/v1/parties/unit-1/keys", json=body).status_code == 201
    token, _ = create("unit-1", "partner")
    body = {"result": "verified", "method": "self_report", "occurred_at": "2026-02-01T09:30:00Z"}
    args = ["submit", "inspect", item, "--data", json.dumps(body), "--key", "unit-1.key"]
    args += ["--server", server, "--token", token, "--nonce", "cli-nonce-0001"]

    first = runner.invoke(app, args)
    again = runner.invoke(app, args)

    assert first.exit_code == 0, first.output
    assert json.loads(again.stdout) == json.loads(first.stdout)
    entries = operator.get(f"/v1/items/{item}/history").json()["entries"]
    assert len(entries) == 2
    entry = json.loads(base64.b64decode(entries[-1]["entry"]))
    signed = entry["signature"]
    submission = base64.b64decode(signed["submission"])
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(
        base64.b64decode(signed["signature"]), submission
    )
    assert json.loads(submission)["body"] == body
    assert entry["actor"] == "unit-1"


def test_submit_with_an_unregistered_key_prints_the_servers_401_and_exits_1(
    store: Store, server: str
) -> None:
    keygen("unit-1", store.directory / "unit-1.key")  # never registered
    token, _ = create("unit-1", "partner")
    body = {"result": "verified", "method": "self_report", "occurred_at": "2026-02-01T09:30:00Z"}
    item = "00000000-0000-4000-8000-000000000000"
    # submit asks for the checkpoint (the log's origin); signing it appends a map root: now.
    signed = httpx.get(
        f"{server}/v1/log/checkpoint", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert signed.status_code == 200, signed.text
    size = store.log_size()
    args = ["submit", "inspect", item, "--data", json.dumps(body), "--key", "unit-1.key"]
    args += ["--server", server, "--token", token]

    result = runner.invoke(app, args)

    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "unauthenticated"
    assert "party unit-1 has no key" in json.loads(result.stdout)["error"]["message"]
    assert store.log_size() == size


def test_keygen_with_an_origin_prints_a_registration_whose_proof_the_ledger_accepts(
    store: Store,
) -> None:
    first = runner.invoke(
        app, ["keygen", "--party", "unit-1", "-o", "a.key", "--origin", DEFAULT_ORIGIN]
    )
    rotate = ["--origin", DEFAULT_ORIGIN, "--endorse-with", "a.key"]
    second = runner.invoke(app, ["keygen", "--party", "unit-1", "-o", "b.key", *rotate])
    bodies = [json.loads(registration_line(r.stdout)) for r in (first, second)]
    ledger = store.ledger()
    try:
        keys = [ledger.register_key(party="unit-1", actor=ADMIN, **b)[0] for b in bodies]
    finally:
        ledger.close()
    history = runner.invoke(app, ["keys", "history", "--party", "unit-1"])

    assert sorted(bodies[0]) == ["proof", "public_key"]
    assert bodies[1]["endorsed_by"] == keys[0]
    assert history.exit_code == 0, history.output
    rows = [line for line in history.stdout.splitlines() if keys[0] in line or keys[1] in line]
    assert "operator-registered, not confirmed by the party" in rows[0]
    assert "endorsed by key" in rows[1]


def registration_line(stdout: str) -> str:
    found = re.search(r"^registration: (.+)$", stdout, re.MULTILINE)
    assert found, stdout
    return found.group(1)
