"""phonet/wire.py: Phonet JSON in, core events out, every quirk of phonet-api.md tolerated."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from agent.core.events import (
    CallAnswered,
    CallDialed,
    CallHungUp,
    CallInfo,
    Direction,
    PauseSwitched,
    PbxEvent,
)
from agent.phonet.wire import (
    EXCERPT_CHARS,
    FrameRejected,
    PbxUser,
    epoch_to_datetime,
    make_call_body,
    make_call_uuid,
    parse_active_calls,
    parse_history,
    parse_live_frame,
    parse_users,
)

# phonet-api.md §3.1, the call.dial webhook fixture, verbatim.
DIAL_FIXTURE = """
{
  "event": "call.dial",
  "accountDomain": "qwerty.phonet.com.ua",
  "uuid": "47a968893984475b8c20e29dec144ce3",
  "parentUuid": null,
  "dialAt": 1431686100,
  "bridgeAt": null,
  "lgDirection": 2,
  "leg": {"id": 36, "ext": "001", "displayName": "Иван Иванов"},
  "leg2": null,
  "otherLegs": [{"id": 1, "name": "Анастасия Березкина", "num": "+380000000000",
                 "companyName": "Тестовая компания", "url": "http://phonet.com.ua/contacts/1"}],
  "trunkNum": "+380442246595",
  "trunkName": "www.phonet.com.ua"
}
"""

# phonet-api.md §2.2, the active-calls record, verbatim (wrapped in the array it comes in).
ACTIVE_FIXTURE = """
[{
  "uuid": "47a968893984475b8c20e29dec144ce3",
  "parentUuid": null,
  "lastEvent": "call.dial",
  "dialAt": 1431686100,
  "bridgeAt": null,
  "lgDirection": 2,
  "leg":  {"id": 36, "ext": "001", "displayName": "Иван Иванов"},
  "leg2": null,
  "otherLegs": [ {"id": "6137", "name": "Telecom company", "num": "+380442249895",
                  "companyName": null,
                  "url": "https://self.phonet.com.ua/features/crm/contacts/edit.jsp#/?id=6137"} ],
  "trunkNum": "+380442246595",
  "trunkName": "+380442246595"
}]
"""

# phonet-api.md §2.3, the first history record, verbatim.
HISTORY_INTERNAL = """
{
  "parentUuid": "d267486f-a539-45dd-c5f5-e735a5870b80",
  "uuid": "f457486f-a539-45dd-c5f5-e735a5870b92",
  "endAt": 1435319298470,
  "lgDirection": 1,
  "otherLegNum": null,
  "otherLegName": null,
  "leg":  {"id": 36, "type": 1, "displayName": "Васильев Андрей", "ext": "001"},
  "leg2": {"id": 19, "type": 1, "displayName": "Operator 4", "ext": "004"},
  "billSecs": 3,
  "duration": 4,
  "disposition": 0,
  "transferHistory": null,
  "audioRecUrl": "https://podium.betell.com.ua/rest/public/calls/f457486f-.../audio ",
  "trunk": null
}
"""

# phonet-api.md §2.3, the second record as the text describes it (no parentUuid key).
HISTORY_OUTGOING = {
    "uuid": "a1b2c3d4-a539-45dd-c5f5-e735a5870b93",
    "endAt": 1435319398470,
    "lgDirection": 2,
    "otherLegNum": "+380993034330",
    "otherLegName": "+380993034330",
    "leg": {"id": 36, "type": 1, "displayName": "Васильев Андрей", "ext": "001"},
    "leg2": None,
    "billSecs": 4,
    "duration": 15,
    "disposition": 0,
    "transferHistory": "003 > 001",
    "audioRecUrl": None,
    "trunk": "o=380442249895;",
}

T_DIAL = datetime(2015, 5, 15, 10, 35, tzinfo=UTC)  # 1431686100
T_BRIDGE = datetime(2015, 5, 15, 10, 35, 12, tzinfo=UTC)  # 1431686112


def frame(**changes: object) -> str:
    obj = json.loads(DIAL_FIXTURE)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return json.dumps(obj)


def one(raw: str | bytes, own_ext: str = "001") -> PbxEvent:
    events = parse_live_frame(raw, own_ext=own_ext)
    assert isinstance(events, list), events
    assert len(events) == 1
    return events[0]


def call_of(raw: str | bytes, own_ext: str = "001") -> CallInfo:
    event = one(raw, own_ext)
    assert isinstance(event, CallDialed | CallAnswered | CallHungUp), event
    return event.call


def rejected(raw: str | bytes, own_ext: str = "001") -> FrameRejected:
    result = parse_live_frame(raw, own_ext=own_ext)
    assert isinstance(result, FrameRejected), result
    return result


# ------------------------------------------------------------- fixtures verbatim


def test_the_call_dial_webhook_fixture_is_an_outgoing_call_dialed() -> None:
    event = one(DIAL_FIXTURE)
    assert event == CallDialed(
        call=CallInfo(
            uuid="47a968893984475b8c20e29dec144ce3",
            direction=Direction.OUT,
            ext="001",
            number="+380000000000",
            outgoing=True,
            dial_at=T_DIAL,
            answer_at=None,
            name="Анастасия Березкина",
            company="Тестовая компания",
            parent_uuid=None,
            trunk="+380442246595",
        ),
        at=T_DIAL,
    )


def test_the_active_calls_fixture_is_one_call_with_its_contact() -> None:
    calls, bad = parse_active_calls(json.loads(ACTIVE_FIXTURE), own_ext="001")
    assert bad == []
    assert calls == [
        CallInfo(
            uuid="47a968893984475b8c20e29dec144ce3",
            direction=Direction.OUT,
            ext="001",
            number="+380442249895",
            outgoing=True,
            dial_at=T_DIAL,
            name="Telecom company",
            company=None,
            trunk="+380442246595",
        )
    ]


def test_the_internal_history_fixture_keeps_both_extensions_and_strips_the_audio_url() -> None:
    records, bad = parse_history([json.loads(HISTORY_INTERNAL)])
    assert bad == []
    (record,) = records
    assert record.uuid == "f457486fa53945ddc5f5e735a5870b92"
    assert record.parent_uuid == "d267486fa53945ddc5f5e735a5870b80"
    assert record.direction is Direction.INTERNAL
    assert record.end_at == datetime(2015, 6, 26, 11, 48, 18, 470000, tzinfo=UTC)
    assert (record.duration_s, record.talk_s, record.disposition) == (4, 3, 0)
    assert (record.ext, record.ext2) == ("001", "004")
    assert record.number is None and record.name is None
    assert record.audio_url == "https://podium.betell.com.ua/rest/public/calls/f457486f-.../audio"
    assert record.trunk is None and record.transfer_history is None


def test_the_outgoing_history_record_without_a_parent_uuid_key_is_read() -> None:
    records, bad = parse_history([HISTORY_OUTGOING])
    assert bad == []
    (record,) = records
    assert record.parent_uuid is None
    assert record.direction is Direction.OUT
    assert record.number == "+380993034330"
    assert record.name is None  # otherLegName repeats the number: no name (§4.4)
    assert (record.duration_s, record.talk_s) == (15, 4)
    assert record.ext == "001" and record.ext2 is None
    assert record.transfer_history == "003 > 001"
    assert record.trunk == "o=380442249895;"
    assert record.audio_url is None


# ------------------------------------------------------------------- live frames


def test_a_bridge_is_a_call_answered_at_bridge_at() -> None:
    event = one(frame(event="call.bridge", bridgeAt=1431686112))
    assert isinstance(event, CallAnswered)
    assert event.at == T_BRIDGE
    assert event.call.answer_at == T_BRIDGE
    assert event.call.dial_at == T_DIAL


def test_a_hangup_happens_at_server_time() -> None:
    event = one(frame(event="call.hangup", bridgeAt=1431686112, serverTime=1431686160123))
    assert isinstance(event, CallHungUp)
    assert event.at == datetime(2015, 5, 15, 10, 36, 0, 123000, tzinfo=UTC)


def test_a_hangup_without_server_time_happens_at_the_latest_known_time() -> None:
    event = one(frame(event="call.hangup", bridgeAt=1431686112))
    assert isinstance(event, CallHungUp)
    assert event.at == T_BRIDGE
    unanswered = one(frame(event="call.hangup"))
    assert isinstance(unanswered, CallHungUp)
    assert unanswered.at == T_DIAL


def test_a_hangup_at_zero_falls_back_to_server_time() -> None:
    event = one(frame(event="call.hangup", hangupAt=0, serverTime=1431686160000))
    assert isinstance(event, CallHungUp)
    assert event.at == datetime(2015, 5, 15, 10, 36, tzinfo=UTC)


def test_times_in_milliseconds_and_seconds_give_the_same_instant() -> None:
    assert one(frame(dialAt=1431686100000)) == one(frame(dialAt=1431686100))


def test_an_incoming_call_is_not_outgoing_and_carries_the_caller() -> None:
    event = one(frame(lgDirection=4))
    assert isinstance(event, CallDialed)
    assert event.call.direction is Direction.IN
    assert event.call.outgoing is False
    assert event.call.number == "+380000000000"


def test_a_missing_parent_uuid_key_is_fine_and_a_dashed_one_is_normalised() -> None:
    assert call_of(frame(parentUuid=...)).parent_uuid is None
    dashed = call_of(frame(parentUuid="D267486F-A539-45DD-C5F5-E735A5870B80"))
    assert dashed.parent_uuid == "d267486fa53945ddc5f5e735a5870b80"


@pytest.mark.parametrize("uuid", ["not-a-uuid", "47a96889", "z" * 32, "47a96889" * 5])
def test_a_live_frame_whose_uuid_the_journal_cannot_key_is_rejected_alone(uuid: str) -> None:
    """Refused where it is read, so the journal's write batch keeps the other calls."""
    assert "32 hex" in rejected(frame(uuid=uuid)).reason


def test_a_malformed_parent_uuid_is_dropped_and_the_call_kept() -> None:
    assert call_of(frame(parentUuid="garbage")).parent_uuid is None


def test_nul_characters_never_reach_the_journal_from_a_live_frame() -> None:
    other = {"num": "+380442249895\x00", "name": "Іван\x00", "companyName": "ТОВ\x00 Ромашка"}
    call = call_of(frame(otherLegs=[other]))
    assert call.number == "+380442249895"
    assert call.name == "Іван" and call.company == "ТОВ Ромашка"


def test_uuids_are_normalised() -> None:
    call = call_of(frame(uuid=" 47A96889-3984-475B-8C20-E29DEC144CE3 "))
    assert call.uuid == "47a968893984475b8c20e29dec144ce3"


@pytest.mark.parametrize("ext", [None, "", "  "])
def test_an_empty_or_null_ext_means_the_subscriber_own(ext: str | None) -> None:
    call = call_of(frame(leg={"id": None, "ext": ext, "displayName": None}), own_ext="007")
    assert call.ext == "007"


def test_a_missing_leg_means_the_subscriber_own() -> None:
    assert call_of(frame(leg=...), own_ext="007").ext == "007"


def test_other_leg_ids_may_be_strings_or_ints() -> None:
    as_str = frame(otherLegs=[{"id": "6137", "name": "X", "num": "+380442249895"}])
    as_int = frame(otherLegs=[{"id": 6137, "name": "X", "num": "+380442249895"}])
    assert one(as_str) == one(as_int)


def test_names_and_companies_lose_their_spaces_and_a_name_equal_to_the_number_is_none() -> None:
    spaced = frame(
        otherLegs=[{"name": " Анна ", "num": " +380000000000 ", "companyName": " ТОВ  "}]
    )
    call = call_of(spaced)
    assert (call.name, call.number, call.company) == ("Анна", "+380000000000", "ТОВ")
    as_number = frame(otherLegs=[{"name": "380000000000", "num": "+380000000000"}])
    assert call_of(as_number).name is None


def test_null_trunks_are_fine() -> None:
    call = call_of(frame(trunkNum=None, trunkName=None))
    assert call.trunk is None


def test_a_hidden_caller_keeps_an_empty_number() -> None:
    call = call_of(frame(lgDirection=4, otherLegs=None))
    assert call.number == "" and call.name is None


# An internal call (lgDirection 1, phonet-api.md §3.1): leg2 is the other employee and
# otherLegs is null; leg is the calling one.
INTERNAL = frame(
    lgDirection=1,
    leg={"id": 36, "ext": "001", "displayName": "Иван Иванов"},
    leg2={"id": 19, "ext": "004", "displayName": "Operator 4"},
    otherLegs=None,
    trunkNum=None,
    trunkName=None,
)


def test_an_internal_call_seen_by_the_caller_is_outgoing_to_the_called_extension() -> None:
    call = call_of(INTERNAL, own_ext="001")
    assert call.direction is Direction.INTERNAL
    assert (call.ext, call.number, call.outgoing) == ("001", "004", True)
    assert call.name is None and call.trunk is None


def test_an_internal_call_seen_by_the_called_is_incoming_from_the_calling_extension() -> None:
    call = call_of(INTERNAL, own_ext="004")
    assert (call.ext, call.number, call.outgoing) == ("004", "001", False)


def test_an_internal_call_of_others_is_described_from_its_caller() -> None:
    call = call_of(INTERNAL, own_ext="099")
    assert (call.ext, call.number, call.outgoing) == ("001", "004", True)


@pytest.mark.parametrize(
    ("lg", "on"), [(32, True), (64, False), ("32", True)], ids=["on", "off", "as-text"]
)
@pytest.mark.parametrize("name", ["call.dial", "call.bridge", "call.hangup", "whatever"])
def test_pause_directions_are_pause_switches_whatever_the_event_name(
    lg: object, on: bool, name: str
) -> None:
    event = one(frame(event=name, lgDirection=lg, serverTime=1431686112000, otherLegs=None))
    assert event == PauseSwitched(ext="001", on=on, at=T_BRIDGE)


def test_duplicated_frames_parse_to_equal_events_for_the_core_to_fold() -> None:
    assert one(DIAL_FIXTURE) == one(DIAL_FIXTURE)


def test_bytes_frames_are_read_as_utf8() -> None:
    assert one(DIAL_FIXTURE.encode()) == one(DIAL_FIXTURE)


def test_a_blank_frame_is_a_keepalive_and_no_event() -> None:
    assert parse_live_frame("  \n", own_ext="001") == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json at all", "not JSON"),
        ("[1, 2]", "a JSON list, not an object"),
        ('"call.dial"', "a JSON str, not an object"),
        (b"\xff\xfe", "not UTF-8 text"),
        (frame(event="call.transfer"), "unknown event 'call.transfer'"),
        (frame(event=...), "no event name"),
        (frame(uuid=...), "no uuid"),
        (frame(uuid=""), "no uuid"),
        (frame(lgDirection=8), "unknown lgDirection 8"),
        (frame(lgDirection=None), "unknown lgDirection None"),
        (frame(dialAt=None), "no dialAt, bridgeAt or serverTime"),
        (frame(dialAt="yesterday"), "no dialAt, bridgeAt or serverTime"),
        ('{"event": "error", "message": "bad"}', "the PBX sent an error frame"),
    ],
)
def test_frames_that_cannot_be_read_are_rejected_with_a_clear_reason(
    raw: str | bytes, reason: str
) -> None:
    assert rejected(raw).reason == reason


def test_a_rejected_frame_quotes_a_short_excerpt_with_secrets_masked() -> None:
    raw = json.dumps({"event": "error", "apiKey": "S3CRETKEY", "x": "y" * 500})
    bad = rejected(raw)
    assert "S3CRETKEY" not in bad.excerpt
    assert '"apiKey": "***"' in bad.excerpt
    assert len(bad.excerpt) <= EXCERPT_CHARS
    url = "wss://d/live/connector/v3/easy?domain=d&apiKey=S3CRETKEY&subscriber=001"
    assert "S3CRETKEY" not in rejected(url).excerpt
    assert "S3CRETKEY" not in rejected("JSESSIONID=S3CRETKEY; Path=/").excerpt


def test_an_excerpt_is_one_line() -> None:
    assert "\n" not in rejected("not\njson\r\n").excerpt


# ------------------------------------------------------------------------ history


def test_bad_history_records_are_skipped_and_reported_and_the_rest_kept() -> None:
    good = json.loads(HISTORY_INTERNAL)
    records, bad = parse_history(
        [
            good,
            "nonsense",
            {**good, "uuid": None},
            {**good, "endAt": None},
            {**good, "disposition": None},
            {**good, "billSecs": -3},
            {**good, "lgDirection": 3},
            HISTORY_OUTGOING,
        ]
    )
    assert [r.direction for r in records] == [Direction.INTERNAL, Direction.OUT]
    assert [b.reason for b in bad] == [
        "a history record that is not an object",
        "no uuid",
        "no endAt",
        "no disposition",
        "duration or billSecs is not a whole number of seconds",
        "unknown lgDirection 3",
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"uuid": "call-42"}, "uuid 'call-42' is not 32 hex characters (dashed or not)"),
        ({"uuid": "47a96889398447" + "5b8c20e29dec144ce3aa"}, "is not 32 hex characters"),
        ({"uuid": "47a968893984475b8c20e29dec144cez"}, "is not 32 hex characters"),
        ({"endAt": "yesterday"}, "endAt is not a time"),
        ({"endAt": 10**30}, "endAt is not a time"),
        ({"duration": 10**12}, "duration or billSecs is longer than 2678400 s"),
        ({"billSecs": 2**31}, "duration or billSecs is longer than 2678400 s"),
        ({"disposition": 2**40}, "disposition is out of range"),
    ],
)
def test_a_history_record_the_journal_cannot_hold_is_rejected_with_its_reason_j1_b4(
    change: dict[str, object], reason: str
) -> None:
    # A record that would fail the journal's write (bad key, times out of range, a
    # number too big for PostgreSQL's integer) is stopped here, alone: the page's
    # other records go on (issue 6 audit: one bad uuid stalled the import for good).
    records, bad = parse_history([{**HISTORY_OUTGOING, **change}, json.loads(HISTORY_INTERNAL)])
    assert [r.direction for r in records] == [Direction.INTERNAL]
    assert len(bad) == 1 and reason in bad[0].reason


def test_a_dashed_or_upper_case_history_uuid_is_one_call_id() -> None:
    (record,), bad = parse_history(
        [{**HISTORY_OUTGOING, "uuid": "F457486F-A539-45DD-C5F5-E735A5870B92"}]
    )
    assert bad == [] and record.uuid == "f457486fa53945ddc5f5e735a5870b92"


def test_history_text_loses_the_characters_no_database_stores() -> None:
    record = {
        **HISTORY_OUTGOING,
        "otherLegName": "Acme\u0000 Ltd",
        "transferHistory": "\ud800003 > 001",
        "trunk": "\u0000",
    }
    (parsed,), bad = parse_history(json.loads(json.dumps([record])))  # as JSON carries them
    assert bad == []
    assert parsed.name == "Acme Ltd"
    assert parsed.transfer_history == "?003 > 001"
    assert parsed.trunk is None
    for text in (parsed.name, parsed.transfer_history):
        assert text is not None
        text.encode("utf-8")  # no lone surrogate left


def test_history_tolerates_empty_extensions_and_numbers_as_strings() -> None:
    # wearesho 285fb83: on "test" calls ext and displayName arrive null or empty.
    record = {
        **HISTORY_OUTGOING,
        "leg": {"id": None, "type": 1, "displayName": None, "ext": ""},
        "billSecs": "4",
        "duration": 15.0,
        "disposition": "1",
        "endAt": "1435319398470",
    }
    (parsed,), bad = parse_history([record])
    assert bad == []
    assert parsed.ext is None
    assert (parsed.talk_s, parsed.duration_s, parsed.disposition) == (4, 15, 1)


def test_unanswered_history_with_null_bill_secs_has_no_talk() -> None:
    (parsed,), _ = parse_history([{**HISTORY_OUTGOING, "billSecs": None, "disposition": 1}])
    assert parsed.talk_s == 0


def test_pause_records_in_history_are_not_calls_and_not_errors() -> None:
    records, bad = parse_history([{**HISTORY_OUTGOING, "lgDirection": 32}])
    assert records == [] and bad == []


def test_history_that_is_not_an_array_is_one_rejection() -> None:
    records, bad = parse_history({"error": "x"})
    assert records == [] and bad[0].reason == "history is not a JSON array"


# ----------------------------------------------------------- active calls, users


def test_active_calls_skip_and_report_bad_records() -> None:
    good = json.loads(ACTIVE_FIXTURE)[0]
    calls, bad = parse_active_calls(
        [good, {**good, "uuid": None}, 5, {**good, "lgDirection": 64}], own_ext="001"
    )
    assert len(calls) == 1
    assert [b.reason for b in bad] == ["no uuid", "an active call that is not an object"]


def test_a_bridged_active_call_has_its_answer_time() -> None:
    good = json.loads(ACTIVE_FIXTURE)[0]
    calls, _ = parse_active_calls(
        [{**good, "lastEvent": "call.bridge", "bridgeAt": 1431686112}], own_ext="001"
    )
    assert calls[0].answer_at == T_BRIDGE


def test_users_are_read_with_leading_zeros_kept() -> None:
    payload = [
        {"id": 30, "displayName": "Иван Иванов", "ext": "901", "email": "ivan@phonet.com.ua"},
        {"id": "14", "displayName": " Юрий ", "ext": "001", "email": None},
        {"id": 15, "displayName": "no ext", "ext": None},
        "junk",
    ]
    assert parse_users(payload) == [
        PbxUser(id=30, ext="901", display_name="Иван Иванов", email="ivan@phonet.com.ua"),
        PbxUser(id=14, ext="001", display_name="Юрий", email=None),
    ]
    assert parse_users({"not": "a list"}) == []


# ------------------------------------------------------------------- small parts


@pytest.mark.parametrize(
    "value", [1431686100, 1431686100000, 1431686100.0, "1431686100", " 1431686100000 "]
)
def test_epoch_values_below_1e12_are_seconds_and_above_are_milliseconds(value: object) -> None:
    assert epoch_to_datetime(value) == T_DIAL  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["soon", True, -1, float("nan"), 10**30, None])
def test_epoch_garbage_raises_value_error(value: object) -> None:
    with pytest.raises(ValueError):
        epoch_to_datetime(value)  # type: ignore[arg-type]


def test_the_make_call_body_names_the_employee_and_the_number() -> None:
    assert make_call_body("001", "+380930439475") == {
        "legExt": "001",
        "otherLegNum": "+380930439475",
    }


def test_the_make_call_answer_gives_a_normalised_uuid() -> None:
    assert make_call_uuid({"uuid": "47A96889-3984-475B-8C20-E29DEC144CE3"}) == (
        "47a968893984475b8c20e29dec144ce3"
    )
    assert make_call_uuid({"nope": 1}) is None
    assert make_call_uuid([]) is None
