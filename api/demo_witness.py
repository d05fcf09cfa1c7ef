"""`custody demo`'s own witness: the whole trust chain on one machine.

In the demo directory it makes a witness key (`witness.key`) and store (`witness.db`), serves the
witness (api/witness_app.py) on a loopback port in a thread of the demo's process, and writes
`witness-policy.txt` (a C2SP tlog-policy naming the log, this witness and its URL, quorum: this
witness) and `log.vkey` (the log's verifier key), the two files `custody verify-evidence --vkey
--policy` and `custody verify --witness-policy` take. The witness stops with the demo.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from api.witness_app import create_witness_app
from ledger.domain import CustodyError, system_clock
from ledger.integrity import Verifier, write_private_key_file
from ledger.store import SQLiteWitnessState
from ledger.witness import CosignerKey, CosignerVerifier, Witness, generate_cosigner_key

WITNESS_NAME = "demo-witness"
KEY_NAME = "localhost/custody-demo-witness"
POLICY_FILE = "witness-policy.txt"
LOG_VKEY_FILE = "log.vkey"
STARTUP_SECONDS = 10.0


@dataclass(frozen=True)
class DemoWitness:
    name: str
    url: str
    verifier: CosignerVerifier
    policy_file: Path
    log_vkey_file: Path


@contextmanager
def demo_witness(directory: Path, *, log: Verifier, host: str, port: int) -> Iterator[DemoWitness]:
    """Run the demo's witness of `log` in `directory` on host:port (0: any free port)."""
    text = generate_cosigner_key(KEY_NAME)
    write_private_key_file(directory / "witness.key", text, check=CosignerKey.from_text)
    key = CosignerKey.from_text(text)
    state = SQLiteWitnessState(directory / "witness.db")
    app = create_witness_app(Witness(key, {log.name: log}, state, system_clock), state)
    listening = _listen(host, port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listening]}, name="demo-witness", daemon=True
    )
    thread.start()
    try:
        _wait_started(server, thread)
        url = f"http://{host}:{listening.getsockname()[1]}"
        witness = DemoWitness(
            WITNESS_NAME, url, key.verifier, directory / POLICY_FILE, directory / LOG_VKEY_FILE
        )
        witness.log_vkey_file.write_text(log.vkey + "\n", encoding="utf-8")
        witness.policy_file.write_text(policy_text(log, witness), encoding="utf-8")
        yield witness
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_SECONDS)
        listening.close()


def policy_text(log: Verifier, witness: DemoWitness) -> str:
    return (
        "# custody demo: the log, its one witness, and the quorum (c2sp.org/tlog-policy)\n"
        f"log {log.vkey}\n"
        f"witness {witness.name} {witness.verifier.vkey} {witness.url}\n"
        f"quorum {witness.name}\n"
    )


def _listen(host: str, port: int) -> socket.socket:
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as error:
        listening.close()
        raise CustodyError(
            f"the demo witness cannot listen on {host}:{port} ({error.strerror}); "
            "choose another port with --witness-port (0: any free port)"
        ) from None
    return listening


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise CustodyError("the demo witness did not start")
        time.sleep(0.02)
