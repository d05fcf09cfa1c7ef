"""The ledger's side of C2SP tlog-witness: ask each witness of the policy (those with a URL) to
cosign a new checkpoint, proving it consistent with the last one that witness cosigned."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx

from ledger.witness import PolicyWitness, WitnessPolicy, format_add_checkpoint

log = logging.getLogger("custody.witnessing")
SIZE_CONTENT_TYPE = "text/x.tlog.size"


class WitnessClient:
    """A `Cosigners` for the Ledger. A witness that is down or refuses is logged and skipped:
    the checkpoint stands on the log's signature, with fewer cosignatures."""

    def __init__(self, policy: WitnessPolicy, http: httpx.Client | None = None) -> None:
        self.witnesses = [w for w in policy.witnesses if w.url]
        self.http = http or httpx.Client(timeout=10)
        self.known_sizes: dict[str, int] = {}

    def __call__(self, note: str, proof_from: Callable[[int], list[bytes]]) -> list[str]:
        lines = (self._ask(w, note, proof_from) for w in self.witnesses)
        return [line for line in lines if line]

    def _ask(
        self, witness: PolicyWitness, note: str, proof_from: Callable[[int], list[bytes]]
    ) -> str | None:
        old = self.known_sizes.get(witness.name, 0)
        for _ in range(2):  # a 409 tells the size the witness has; try once more from there
            body = format_add_checkpoint(old, proof_from(old), note)
            try:
                response = self.http.post(f"{witness.url}/add-checkpoint", content=body)
            except httpx.HTTPError as error:
                log.warning("witness %s unreachable: %s", witness.name, error)
                return None
            if response.status_code == 200:
                self.known_sizes[witness.name] = int(note.split("\n")[1])
                return response.text
            if response.status_code != 409 or SIZE_CONTENT_TYPE not in response.headers.get(
                "content-type", ""
            ):
                break
            old = int(response.text.strip())
        log.warning(
            "witness %s refused the checkpoint: %s %s",
            witness.name,
            response.status_code,
            response.text.strip()[:200],
        )
        return None
