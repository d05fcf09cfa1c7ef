"""The README's first command, for real: `custody demo` builds, serves on 127.0.0.1 checkpoints its
own witness cosigned, prints a token that works; `custody init` + `custody serve` do the same for an
empty ledger."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.witness.witness_policy import parse_policy, verify_policy_checkpoint

CUSTODY = [sys.executable, "-m", "custody_cli"]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
    return clean | {"PYTHONPATH": str(ROOT)}


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """The processes a test starts (`start`), terminated after it."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def start(
    started: list[subprocess.Popen[str]],
    *args: str,
    cwd: Path,
    env: dict[str, str],
    stdout: int = subprocess.DEVNULL,
) -> subprocess.Popen[str]:
    """`custody *args` in the background, its stderr with its stdout, until the test ends."""
    process = subprocess.Popen(
        [*CUSTODY, *args], cwd=cwd, env=env, stdout=stdout, stderr=subprocess.STDOUT, text=True
    )
    started.append(process)
    return process


def initialised(cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """What `custody init --json`, run as a process in `cwd`, prints (its vkey, its admin token)."""
    init = subprocess.run(
        [*CUSTODY, "init", "--json"], cwd=cwd, env=env, text=True, capture_output=True, check=True
    )
    return dict(json.loads(init.stdout))


def test_demo_serves_the_api_and_docs_and_its_printed_token_works(
    tmp_path: Path, env: dict[str, str], started: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    demo = start(
        started,
        *["demo", "--items", "20", "--port", str(port), "--witness-port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
    )

    wait_until_up(f"http://127.0.0.1:{port}/docs", demo)

    assert demo.stdout is not None
    printed = ""
    while "admin token" not in printed:
        printed += demo.stdout.readline()
    token = re.search(r"admin token: (\S+)", printed)
    assert token, printed
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
    checkpoint = httpx.get(f"http://127.0.0.1:{port}/v1/log/checkpoint", headers=headers)
    assert checkpoint.status_code == 200 and checkpoint.text.startswith("localhost/custody\n")
    policy = parse_policy((tmp_path / "custody-demo" / "witness-policy.txt").read_bytes())
    _, cosigned = verify_policy_checkpoint(policy, checkpoint.text)  # the demo's witness cosigned
    assert [c.witness for c in cosigned] == ["demo-witness"]


def test_init_then_serve_answers_writes_with_their_log_index(
    tmp_path: Path, env: dict[str, str], started: list[subprocess.Popen[str]]
) -> None:
    token = initialised(tmp_path, env)["admin_token"]
    port = free_port()
    serve = start(started, "serve", "--port", str(port), cwd=tmp_path, env=env)
    wait_until_up(f"http://127.0.0.1:{port}/openapi.json", serve)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
    )

    signed_by_init = client.get("/v1/log/checkpoint")

    party = client.post("/v1/parties", json={"id": "unit-1", "name": "U", "kind": "recipient"})

    assert party.status_code == 201
    # after the operator, its token and the map root that ends the checkpoint init signed
    assert party.json()["log_index"] == int(signed_by_init.text.splitlines()[1])
    before = client.get("/v1/log/entries", params={"start": 0, "end": party.json()["log_index"]})
    topics = [
        json.loads(base64.b64decode(e["entry"]))["payload"]["originator_topic"]
        for e in before.json()["entries"]
    ]
    assert topics == ["custody:Party", "custody:Token", "custody:LogMap"]
    # Issue 16: uvicorn trusted X-Forwarded-For from 127.0.0.1, so a local client rotating the
    # header was never limited; `custody serve` now reads it from CUSTODY_TRUSTED_PROXIES only.
    wrong = {"Authorization": "Bearer cst_not-a-token-of-this-ledger"}
    rotated = [
        httpx.get(
            f"http://127.0.0.1:{port}/v1/flags",
            headers=wrong | {"X-Forwarded-For": f"192.0.2.{n}"},
        ).status_code
        for n in range(11)
    ]
    assert rotated == [401] * 10 + [429]
