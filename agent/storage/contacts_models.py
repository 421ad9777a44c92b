"""peewee models of the contacts area: contacts, the number index, events, the
unimportant call uuids and sales (migrations 0010–0012).

Like ``models.py``: bound to no database, made by the migrations, never by
``create_table``. The lookup and the bulk imports use SQL written out in
``contacts_repo.py`` (one statement built once beats peewee's builder on the hot
paths); these models serve the rest and a test holds them to the real tables.
"""

from __future__ import annotations

import peewee as pw

from agent.storage.models import UtcDateTimeField


class _Base(pw.Model):
    class Meta:
        legacy_table_names = False


class ContactRow(_Base):
    id = pw.BigAutoField()
    name = pw.TextField()
    company = pw.TextField(null=True)
    phones = pw.TextField(default="[]")  # JSON [{"number","kind","person"}]
    attributes = pw.TextField(default="{}")  # JSON object
    responsible_ext = pw.TextField(null=True)
    search = pw.TextField(default="")  # casefolded name + company (contacts.search_text)
    last_contact_at = UtcDateTimeField(null=True)
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()
    deleted_at = UtcDateTimeField(null=True)
    merged_into = pw.BigIntegerField(null=True)

    class Meta:
        table_name = "contacts"


class ContactNumberRow(_Base):
    key = pw.TextField()  # E.164, or the digits of a number that is not valid
    contact_id = pw.BigIntegerField()
    phone_index = pw.IntegerField(null=True)  # which phone made the key; None: attributes

    class Meta:
        table_name = "contact_numbers"
        primary_key = pw.CompositeKey("key", "contact_id")


class EventRow(_Base):
    id = pw.BigAutoField()
    call_uuid = pw.TextField(null=True)
    number = pw.TextField(null=True)
    contact_id = pw.BigIntegerField(null=True)
    operator_ext = pw.TextField()
    direction = pw.TextField(null=True)
    kind = pw.TextField()
    importance = pw.TextField()
    planned_at = UtcDateTimeField(null=True)
    notes = pw.TextField(default="")
    fields = pw.TextField(default="{}")  # JSON: U8 default values beyond the columns
    state = pw.TextField()  # EventState value
    source = pw.TextField()  # EventSource value
    done_at = UtcDateTimeField(null=True)
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()

    class Meta:
        table_name = "events"


class UnimportantCallRow(_Base):
    uuid = pw.TextField(primary_key=True)
    operator_ext = pw.TextField()
    marked_at = UtcDateTimeField()

    class Meta:
        table_name = "unimportant_calls"


class SaleRow(_Base):
    id = pw.BigAutoField()
    contact_id = pw.BigIntegerField()
    number = pw.TextField(null=True)
    sold_on = pw.DateField()
    amount_cents = pw.BigIntegerField()
    created_at = UtcDateTimeField()

    class Meta:
        table_name = "sales"


CONTACT_MODELS: tuple[type[pw.Model], ...] = (
    ContactRow,
    ContactNumberRow,
    EventRow,
    UnimportantCallRow,
    SaleRow,
)
"""Every model of the area; tests/contacts holds each to the table the migrations made."""
