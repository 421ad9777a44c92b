"""The operator's phone as the agent sees it: lines, DND, the live link, and what
must still be learnt about calls that ended (C3, M2, B2, B4).

Pure and single-threaded: fed events and ``now``, returns effects, and says when it
next needs waking (architecture.md, rule 1). The runtime owns the only instance.

Finishing a call (B2): the live hang-up carries no outcome, so the row written at
hang-up holds our own estimate, and the PBX history is asked for the call's
figures a few times (``FINALISE_AFTER_S``). After the outcome wait (G: 15 s) the
outcome is announced as provisional if the PBX has not answered yet.

No lost calls (B4): while the link is up, a checkpoint trails ``now`` by
``CHECKPOINT_LAG``; when the link comes back (or the agent starts), every call of
the extension since that checkpoint is fetched from history and merged. History may
lag the calls it records, so the gap is fetched once more ``CHECKPOINT_LAG`` later:
a call that ended in the gap but was not yet in history the first time is found then.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from agent.core.effects import (
    AnnounceOutcome,
    Effect,
    FetchActiveCalls,
    FetchHistory,
    FetchPurpose,
    SaveCheckpoint,
    ShowPopup,
    StateChanged,
    StoreCall,
    StoreHistory,
    SwitchDnd,
)
from agent.core.events import (
    CallAnswered,
    CallDialed,
    CallEvent,
    CallHungUp,
    CallInfo,
    Direction,
    HistoryRecord,
    LinkDown,
    LinkUp,
    PauseSwitched,
)
from agent.core.journal import (
    JournalEntry,
    Source,
    entry_from_live,
    merge_history,
    with_live_hangup,
)
from agent.core.lines import Line, Lines, Step
from agent.core.popups import CallContext, PopupKind, popup_for

# Seconds after the hang-up at which the history is asked for the call's figures.
FINALISE_AFTER_S = (1.0, 3.0, 7.0, 15.0, 60.0, 300.0)
# History may lag behind the live stream (phonet-api.md §8: unknown), so the
# checkpoint of "everything is in the journal" trails the clock.
CHECKPOINT_LAG = timedelta(minutes=2)
CHECKPOINT_EVERY = timedelta(minutes=1)
WINDOW_MARGIN = timedelta(minutes=1)
RECONCILE_RETRY = timedelta(seconds=30)


@dataclass(slots=True)
class _Pending:
    """A call that ended, waiting for its history record."""

    entry: JournalEntry
    ended_at: datetime
    attempt: int = 0
    due_at: datetime | None = None
    announced: bool = False


@dataclass(frozen=True, slots=True)
class PhoneConfig:
    own_ext: str
    completed_talk_s: int = 10
    outcome_wait_s: float = 15.0
    max_reconcile: timedelta = timedelta(days=7)
    # How far PBX history may trail the live stream (B4); phonet-api.md does not say.
    checkpoint_lag: timedelta = CHECKPOINT_LAG


class Phone:
    def __init__(self, config: PhoneConfig) -> None:
        self.config = config
        self.lines = Lines()
        self.dnd = False
        self.dnd_until: datetime | None = None  # B12: a timer turns DND off again
        self.link_up = False
        self.last_event_at: datetime | None = None
        self._entries: dict[str, JournalEntry] = {}  # open calls, by uuid
        self._pending: dict[str, _Pending] = {}
        self._covered_until: datetime | None = None
        self._gap_from: datetime | None = None
        self._reconcile_due: datetime | None = None
        self._reconciling = False
        # The gap fetched again once history has caught up (B4): its start, and when.
        self._late_from: datetime | None = None
        self._late_due: datetime | None = None
        self._late_in_flight = False
        self._finalising = False  # one FINALISE fetch in flight at a time
        self._next_checkpoint: datetime | None = None
        self._seq = 0  # counts call events; see FetchActiveCalls
        self._touched: dict[str, int] = {}  # uuid -> seq of its latest event
        self._contexts: dict[str, CallContext] = {}  # uuid -> what our data says
        # Deadlines of pending calls as heaps with lazy deletion: a busy hour has
        # thousands of calls waiting for history, and the runtime asks after every event.
        self._due_heap: list[tuple[datetime, int, str]] = []
        self._outcome_heap: list[tuple[datetime, int, str]] = []
        self._heap_seq = 0

    # ------------------------------------------------------------ inputs

    def resume(
        self, open_entries: list[JournalEntry], covered_until: datetime | None, now: datetime
    ) -> list[Effect]:
        """Start from what the journal holds: calls left open by an earlier run and
        the checkpoint of the last run (the gap starts there)."""
        for entry in open_entries:
            self._entries[entry.uuid] = entry
        self._covered_until = covered_until
        if covered_until is not None:
            self._gap_from = max(covered_until, now - self.config.max_reconcile)
        return []

    def feed(self, event: CallEvent | PauseSwitched | LinkUp | LinkDown) -> list[Effect]:
        match event:
            case CallDialed() | CallAnswered() | CallHungUp():
                self.last_event_at = event.at
                if not self._is_ours(event.call):
                    return []
                return self._on_call(event)
            case PauseSwitched():
                self.last_event_at = event.at
                if event.ext != self.config.own_ext or event.on == self.dnd:
                    return []
                self.dnd = event.on
                if not event.on:
                    self.dnd_until = None
                return [StateChanged()]
            case LinkUp():
                return self._on_link_up(event.at)
            case LinkDown():
                return self._on_link_down(event.at)

    def active_calls(
        self, calls: list[CallInfo], now: datetime, asked_seq: int = 0
    ) -> list[Effect]:
        """The PBX's active calls after a (re)connect: lines that ended meanwhile
        wait for their history record like any hang-up.

        The answer may be older than what the live stream said since it was asked
        (``asked_seq``): such calls are left to the stream."""
        newer = {u for u, seq in self._touched.items() if seq > asked_seq}
        ours = [c for c in calls if self._is_ours(c) and c.uuid not in newer]
        known_newer = [ln.call for ln in self.lines if ln.call.uuid in newer]
        gone = self.lines.restore(ours + known_newer, now)
        effects: list[Effect] = [StateChanged()]
        for call in ours:
            if call.uuid not in self._entries:
                entry = entry_from_live(call)
                self._entries[call.uuid] = entry
                effects.append(StoreCall(entry))
        active = {c.uuid for c in ours} | newer
        for uuid in gone + [u for u in self._entries if u not in active]:
            ended = self._entries.pop(uuid, None)
            if ended is not None and uuid not in self._pending:
                self._add_pending(_Pending(ended, now, due_at=now))
        return effects

    def history_fetched(
        self,
        purpose: FetchPurpose,
        records: list[HistoryRecord],
        time_to: datetime,
        now: datetime,
    ) -> list[Effect]:
        effects: list[Effect] = []
        unknown: list[HistoryRecord] = []
        if purpose is FetchPurpose.FINALISE:
            self._finalising = False
        for record in records:
            pending = self._pending.pop(record.uuid, None)
            if pending is not None:  # matched by uuid, whatever the record's legs say
                effects += self._finish(pending, record)
            elif record.uuid not in self._entries and self._record_is_ours(record):
                unknown.append(record)
        if purpose is FetchPurpose.RECONCILE:
            self._reconciling = False
            if unknown:
                effects.append(StoreHistory(tuple(unknown), Source.RECONCILED))
            if self._late_in_flight:
                self._late_in_flight = False
                self._late_from = None
                if self._gap_from is not None:  # the link dropped again meanwhile
                    effects += self._start_reconcile(now)
            elif self._gap_from is not None and self.link_up:
                self._late_from = self._gap_from
                self._late_due = now + self.config.checkpoint_lag
                self._gap_from = None
                self._reconcile_due = None
            effects += self._checkpoint(now, force=True)
        return effects

    def history_failed(self, purpose: FetchPurpose, now: datetime) -> list[Effect]:
        if purpose is FetchPurpose.FINALISE:
            self._finalising = False
        if purpose is FetchPurpose.RECONCILE:
            self._reconciling = False
            if self._late_in_flight:
                self._late_in_flight = False
                if self._late_from is not None:
                    self._late_due = now + RECONCILE_RETRY
            else:
                self._reconcile_due = now + RECONCILE_RETRY
        return []

    def request_dnd(self, on: bool, until: datetime | None = None) -> list[Effect]:
        """The operator asks for DND on (optionally until a time) or off (U4, B12).

        Only the PBX's pause event changes ``dnd``; a timer on an already-on DND
        just moves the deadline."""
        self.dnd_until = until if on else None
        effects: list[Effect] = [StateChanged()]
        if on != self.dnd:
            effects.append(SwitchDnd(on))
        return effects

    def knows_context(self, uuid: str) -> bool:
        return uuid in self._contexts

    def note_context(self, uuid: str, context: CallContext) -> None:
        """What the contact lookup found for a call; fed before the call's event."""
        self._contexts[uuid] = context
        if len(self._contexts) > 1024:
            for old in list(self._contexts)[:512]:
                del self._contexts[old]
        self.lines.set_context(uuid, context)

    # ------------------------------------------------------------ the clock

    def _add_pending(self, pending: _Pending) -> None:
        self._pending[pending.entry.uuid] = pending
        self._push_due(pending)
        self._heap_seq += 1
        item = (self._outcome_deadline(pending), self._heap_seq, pending.entry.uuid)
        heapq.heappush(self._outcome_heap, item)

    def _push_due(self, pending: _Pending) -> None:
        if pending.due_at is not None:
            self._heap_seq += 1
            heapq.heappush(self._due_heap, (pending.due_at, self._heap_seq, pending.entry.uuid))

    def _first_due(self) -> datetime | None:
        heap = self._due_heap
        while heap:
            at, _, uuid = heap[0]
            pending = self._pending.get(uuid)
            if pending is not None and pending.due_at == at:
                return at
            heapq.heappop(heap)  # stale: finished, or moved to a later attempt
        return None

    def _first_outcome(self) -> datetime | None:
        heap = self._outcome_heap
        while heap:
            at, _, uuid = heap[0]
            pending = self._pending.get(uuid)
            if pending is not None and not pending.announced:
                return at
            heapq.heappop(heap)
        return None

    def next_wakeup(self) -> datetime | None:
        times: list[datetime] = []
        if not self._finalising:  # while a fetch is out, its answer wakes us
            first_due = self._first_due()
            if first_due is not None:
                times.append(first_due)
        first_outcome = self._first_outcome()
        if first_outcome is not None:
            times.append(first_outcome)
        if self._reconcile_due is not None and not self._reconciling:
            times.append(self._reconcile_due)
        if self._late_due is not None and not self._reconciling:
            times.append(self._late_due)
        if self._next_checkpoint is not None:
            times.append(self._next_checkpoint)
        if self.dnd_until is not None:
            times.append(self.dnd_until)
        return min(times, default=None)

    def wake(self, now: datetime) -> list[Effect]:
        effects: list[Effect] = []
        if not self._finalising:
            due: list[_Pending] = []
            while (first := self._first_due()) is not None and first <= now:
                due.append(self._pending[heapq.heappop(self._due_heap)[2]])
            if due:
                self._finalising = True
                effects.append(self._fetch_for(due))
        while (first := self._first_outcome()) is not None and first <= now:
            pending = self._pending[heapq.heappop(self._outcome_heap)[2]]
            pending.announced = True
            effects.append(AnnounceOutcome(pending.entry, provisional=True))
        if self._reconcile_due is not None and self._reconcile_due <= now:
            effects += self._start_reconcile(now)
        if self._late_due is not None and self._late_due <= now:
            effects += self._start_late_pass(now)
        if self._next_checkpoint is not None and self._next_checkpoint <= now:
            effects += self._checkpoint(now)
        if self.dnd_until is not None and self.dnd_until <= now:
            self.dnd_until = None
            effects += [StateChanged(), SwitchDnd(False)] if self.dnd else [StateChanged()]
        return effects

    # ------------------------------------------------------------ calls

    def _on_call(self, event: CallEvent) -> list[Effect]:
        self._seq += 1
        self._touched[event.call.uuid] = self._seq
        if len(self._touched) > 4096:  # only recent calls can race a snapshot
            for uuid in list(self._touched)[:2048]:
                del self._touched[uuid]
        transition = self.lines.apply(event)
        line, step = transition.line, transition.step
        if step is Step.NOTHING:
            return []
        context = self._contexts.get(line.call.uuid)
        if context is not None and line.context is None:
            self.lines.set_context(line.call.uuid, context)
            line = replace(line, context=context)
        effects: list[Effect] = [StateChanged()]
        entry = self._entries.get(line.call.uuid) or self._pending_entry(line.call.uuid)
        if entry is None:
            entry = entry_from_live(line.call)
        if context is not None and context.contact_id is not None and entry.contact_id is None:
            entry = replace(entry, contact_id=context.contact_id, contact_name=context.name)
        if step is Step.ANSWERED:
            entry = replace(entry, answer_at=entry.answer_at or line.answered_at)
        talk_s: int | None = None
        if step is Step.ENDED:
            entry = with_live_hangup(entry, event.at, self.config.completed_talk_s)
            talk_s = entry.talk_s
            self._entries.pop(entry.uuid, None)
            if not entry.final:
                self._add_pending(
                    _Pending(
                        entry, event.at, due_at=event.at + timedelta(seconds=FINALISE_AFTER_S[0])
                    )
                )
        else:
            self._entries[entry.uuid] = entry
        effects.append(StoreCall(entry))
        popup = popup_for(line, step, talk_s=talk_s)
        if popup is not None and not (self.dnd and popup.kind is PopupKind.RING):
            effects.append(ShowPopup(popup))
        return effects

    def _pending_entry(self, uuid: str) -> JournalEntry | None:
        pending = self._pending.get(uuid)
        return pending.entry if pending else None

    def _finish(self, pending: _Pending, record: HistoryRecord) -> list[Effect]:
        entry = merge_history(
            pending.entry,
            record,
            own_ext=self.config.own_ext,
            source=pending.entry.source,
            completed_talk_s=self.config.completed_talk_s,
        )
        effects: list[Effect] = [StoreCall(entry)]
        if not pending.announced:
            effects.append(AnnounceOutcome(entry, provisional=False))
        return effects

    def _fetch_for(self, due: list[_Pending]) -> FetchHistory:
        """One history window over every call now due. The window is drawn from the
        PBX's own times (the calls' hang-ups), so our clock's skew does not matter."""
        for pending in due:
            pending.attempt += 1
            if pending.attempt < len(FINALISE_AFTER_S):
                pending.due_at = max(
                    pending.ended_at + timedelta(seconds=FINALISE_AFTER_S[pending.attempt]),
                    (pending.due_at or pending.ended_at) + timedelta(seconds=1),
                )
                self._push_due(pending)
            else:
                pending.due_at = None  # given up: a later reconcile may still fill it
        ends = [p.entry.end_at or p.ended_at for p in due]
        starts = [p.entry.end_at or p.entry.dial_at for p in due]
        return FetchHistory(
            min(starts) - WINDOW_MARGIN, max(ends) + WINDOW_MARGIN, FetchPurpose.FINALISE
        )

    def _outcome_deadline(self, pending: _Pending) -> datetime:
        return pending.ended_at + timedelta(seconds=self.config.outcome_wait_s)

    # ------------------------------------------------------------ the link

    def _on_link_up(self, at: datetime) -> list[Effect]:
        self.link_up = True
        effects: list[Effect] = [StateChanged(), FetchActiveCalls(self._seq)]
        if self._gap_from is not None:
            effects += self._start_reconcile(at)
        else:
            effects += self._checkpoint(at, force=True)
        return effects

    def _on_link_down(self, at: datetime) -> list[Effect]:
        was_up, self.link_up = self.link_up, False
        self._next_checkpoint = None
        if self._gap_from is None:
            self._gap_from = self._covered_until or at - self.config.checkpoint_lag
        if self._late_from is not None:  # the next reconcile covers the earlier gap too
            self._gap_from = min(self._gap_from, self._late_from)
            self._late_from = self._late_due = None
        return [StateChanged()] if was_up else []

    def _start_reconcile(self, now: datetime) -> list[Effect]:
        if self._gap_from is None or self._reconciling or not self.link_up:
            return []
        self._reconciling = True
        self._reconcile_due = None
        return [FetchHistory(self._gap_from - WINDOW_MARGIN, now, FetchPurpose.RECONCILE)]

    def _start_late_pass(self, now: datetime) -> list[Effect]:
        if self._late_from is None or self._reconciling or not self.link_up:
            return []
        self._late_due = None
        self._reconciling = self._late_in_flight = True
        return [FetchHistory(self._late_from - WINDOW_MARGIN, now, FetchPurpose.RECONCILE)]

    def _checkpoint(self, now: datetime, *, force: bool = False) -> list[Effect]:
        if not self.link_up or self._gap_from is not None:
            return []
        self._next_checkpoint = now + CHECKPOINT_EVERY
        covered = now - self.config.checkpoint_lag
        if self._covered_until is not None and covered <= self._covered_until and not force:
            return []
        self._covered_until = max(covered, self._covered_until or covered)
        return [SaveCheckpoint(self._covered_until)]

    # ------------------------------------------------------------ whose call

    def _is_ours(self, call: CallInfo) -> bool:
        return call.ext in ("", self.config.own_ext)

    def _record_is_ours(self, record: HistoryRecord) -> bool:
        """History may carry a null or empty ext (phonet-api.md §2.3, "test" calls);
        such a record cannot be told apart and is taken as ours: one stray row is
        better than a lost call (B4)."""
        own = self.config.own_ext
        if record.direction is Direction.INTERNAL:
            return own in (record.ext, record.ext2)
        return record.ext in (None, "", own)

    # ------------------------------------------------------------ views

    @property
    def line_list(self) -> list[Line]:
        return list(self.lines)
