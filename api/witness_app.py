"""`custody witness`: the C2SP tlog-witness HTTP endpoint over ledger/witness/witness.py.

POST /add-checkpoint      the tlog-witness request; answers the cosignature line, or the
                          status the spec prescribes (400, 403, 404, 409, 413, 422)
GET  /key                 the witness's cosigner verifier key (vkey)
GET  /misbehaviour        the inconsistent checkpoints it refused, kept as evidence
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from api.limits import BodyLimit
from ledger.store import SQLiteWitnessState
from ledger.witness import Witness

MAX_REQUEST = 1024 * 1024


def create_witness_app(witness: Witness, state: SQLiteWitnessState) -> FastAPI:
    app = FastAPI(title="Custody witness", description="A C2SP tlog-witness.")
    app.add_middleware(BodyLimit, max_bytes=MAX_REQUEST)  # stops reading a chunked body early

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_REQUEST:
            return PlainTextResponse("request too large\n", status_code=413)
        result = witness.add_checkpoint(body)
        # Set the header as is: Starlette would add "; charset=utf-8" to a text/* media type, and
        # clients match text/x.tlog.size exactly.
        return Response(
            result.body, status_code=result.status, headers={"Content-Type": result.content_type}
        )

    @app.get("/key", response_class=PlainTextResponse)
    def key() -> str:
        return witness.verifier.vkey + "\n"

    @app.get("/misbehaviour")
    def misbehaviour() -> JSONResponse:
        return JSONResponse({"evidence": state.misbehaviour()})

    return app
