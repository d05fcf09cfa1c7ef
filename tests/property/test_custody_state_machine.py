"""Random valid (and invalid) command sequences keep the custody invariants:

- an item is in exactly one state: in the custody of one holder, lost, or disposed;
- the ledger's live state equals a simple model of the rules, and refused commands record nothing;
- custody_at replays agree with the live state, now and as known at every earlier recording time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from ledger.application.ledger import Ledger
from ledger.domain.errors import ItemDisposed, ItemLost, ItemNotLost, NotTheHolder
from ledger.domain.items import Status
from tests.conftest import SIGNER, Clock
from tests.programme import ADMIN, UNITS, register

State = tuple[str, Status]


class CustodyMachine(RuleBasedStateMachine):
    items = Bundle("items")

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.ledger = Ledger(
            clock=self.clock, db="sqlite:///:memory:", create_tables=True, signer=SIGNER
        )
        register(self.ledger)
        self.model: dict[UUID, State] = {}
        self.seen: dict[UUID, list[tuple[datetime, State]]] = {}
        self.serials = 0

    def teardown(self) -> None:
        self.ledger.close()

    def _tick(self) -> datetime:
        return self.clock.advance(hours=1) - timedelta(minutes=1)

    def _expect(self, item: UUID, state: State) -> None:
        self.model[item] = state
        self.seen[item].append((self.clock(), state))

    def _attempt(
        self, item: UUID, allowed: bool, command: object, *args: object, **kwargs: object
    ) -> bool:
        size = self.ledger.log_store.log_size()
        try:
            command(item, *args, occurred_at=self._tick(), actor=ADMIN, **kwargs)  # type: ignore[operator]
        except (ItemLost, ItemDisposed, ItemNotLost, NotTheHolder) as refused:
            assert not allowed, f"refused unexpectedly: {refused}"
            assert self.ledger.log_store.log_size() == size
            return False
        assert allowed, "a command that breaks a rule was recorded"
        return True

    @rule(target=items, unit=st.sampled_from(UNITS))
    def issue(self, unit: str) -> UUID:
        self.serials += 1
        item = self.ledger.issue(
            serial=f"SM-{self.serials}",
            manufacturer="M",
            model="X",
            category="rifle",
            agreement="eua-1",
            recipient=unit,
            occurred_at=self._tick(),
            actor=ADMIN,
        ).id
        self.seen[item] = []
        self._expect(item, (unit, Status.IN_CUSTODY))
        return item

    @rule(item=items, to=st.sampled_from(UNITS))
    def transfer(self, item: UUID, to: str) -> None:
        holder, status = self.model[item]
        allowed = status is Status.IN_CUSTODY and to != holder
        if self._attempt(item, allowed, self.ledger.transfer, to=to):
            self._expect(item, (to, status))

    @rule(item=items, circumstances=st.sampled_from(["lost", "stolen", "captured"]))
    def report_lost(self, item: UUID, circumstances: str) -> None:
        holder, status = self.model[item]
        if self._attempt(
            item, status is Status.IN_CUSTODY, self.ledger.report_lost, circumstances=circumstances
        ):
            self._expect(item, (holder, Status.LOST))

    @rule(item=items, by=st.sampled_from(UNITS))
    def recover(self, item: UUID, by: str) -> None:
        if self._attempt(item, self.model[item][1] is Status.LOST, self.ledger.recover, by=by):
            self._expect(item, (by, Status.IN_CUSTODY))

    @rule(item=items)
    def inspect(self, item: UUID) -> None:
        allowed = self.model[item][1] is Status.IN_CUSTODY
        if self._attempt(
            item,
            allowed,
            self.ledger.inspect,
            result="verified",
            method="physical",
            inspector="inspectorate",
        ):
            self._expect(item, self.model[item])

    @rule(item=items)
    def dispose(self, item: UUID) -> None:
        holder, status = self.model[item]
        if self._attempt(
            item,
            status is Status.IN_CUSTODY,
            self.ledger.dispose,
            method="destroyed",
            certificate="C",
            witnesses=["a", "b"],
        ):
            self._expect(item, (holder, Status.DISPOSED))

    @precondition(lambda self: bool(self.model))
    @invariant()
    def live_state_matches_the_model_and_is_exactly_one_state(self) -> None:
        for item, (holder, status) in self.model.items():
            live = self.ledger.item(item)
            assert (live.holder, live.status) == (holder, status)
            assert live.status in set(Status) and live.holder

    @precondition(lambda self: bool(self.model))
    @invariant()
    def replays_agree_with_the_live_state_now_and_as_known_before(self) -> None:
        now = self.clock()
        for item, seen in self.seen.items():
            state = self.ledger.custody_at(item, at=now)
            assert (state.holder, state.status) == self.model[item]
            recorded_at, expected = seen[len(seen) // 2]
            earlier = self.ledger.custody_at(item, at=now, known_at=recorded_at)
            assert (earlier.holder, earlier.status) == expected


CustodyMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_custody_state_machine = CustodyMachine.TestCase
