"""Demo data for ``phonet-agent demo``: about twenty contacts with Ukrainian names and
companies, a few sales and events, so the demo's calls pop up with a name, a last
note and a planned event (B13), and the statistics have something to show (U9).

The numbers of the demo's scripted calls (agent/demo.py) are here: +380442249895
(a company line two people share: the popup shows the several-matches rule),
+380501234567, +380671112233; +380931234567 stays unknown on purpose, so the demo
also shows B14's hint ("Україна · lifecell").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Final

from agent.core.call_events import EventDraft, EventSource, EventState
from agent.core.contacts import Contact, Phone, search_keys
from agent.storage.contacts_repo import ContactsRepository
from agent.storage.events_repo import EventsRepository, SalesRepository

if TYPE_CHECKING:
    from agent.storage.database import Storage

DEMO_NUMBERS: Final = ("+380442249895", "+380501234567", "+380671112233", "+380931234567")

# (name, company, [(number, kind, person)], responsible, attributes)
_CONTACTS: Final = (
    (
        "Іван Петренко",
        "ТОВ «Ромашка»",
        [("+380442249895", "work", "Іван"), ("+380961234501", "mobile", None)],
        "001",
        {"region": "Київ", "priority": 1},
    ),
    (
        "Марія Петренко",
        "ТОВ «Ромашка»",
        [("+380442249895", "work", "бухгалтерія")],
        "002",
        {"region": "Київ", "priority": 2},
    ),
    (
        "Олена Коваль",
        "ФОП Коваль О. В.",
        [("+380501234567", "mobile", None)],
        "001",
        {"region": "Львів", "priority": 1},
    ),
    (
        "Андрій Шевченко",
        "ТОВ «Агросвіт»",
        [("+380671112233", "mobile", None), ("+380322123456", "work", "приймальня")],
        None,
        {"region": "Львів", "priority": 3},
    ),
    (
        "Наталія Бондар",
        "ПП «Бондар і партнери»",
        [("+380567234510", "work", None)],
        "001",
        {"region": "Дніпро", "priority": 2},
    ),
    (
        "Сергій Ткаченко",
        "ТОВ «Будмайстер»",
        [("+380662345611", "mobile", None)],
        "002",
        {"region": "Харків", "priority": 2},
    ),
    (
        "Оксана Кравченко",
        "ФОП Кравченко",
        [("+380972345612", "mobile", None)],
        None,
        {"region": "Одеса", "priority": 3},
    ),
    (
        "Петро Мельник",
        "ТОВ «Мельник Агро»",
        [("+380352345613", "work", None)],
        "001",
        {"region": "Тернопіль", "priority": 1},
    ),
    (
        "Юлія Савченко",
        "АТ «Київхліб»",
        [("+380442345614", "work", "відділ закупівель")],
        None,
        {"region": "Київ", "priority": 1},
    ),
    (
        "Дмитро Литвиненко",
        "ТОВ «Логістик Плюс»",
        [("+380632345615", "mobile", None)],
        "002",
        {"region": "Київ", "priority": 3},
    ),
    (
        "Ірина Гончаренко",
        "ФОП Гончаренко",
        [("+380732345616", "mobile", None)],
        None,
        {"region": "Полтава", "priority": 2},
    ),
    (
        "Василь Лисенко",
        "ТОВ «Карпати Деревообробка»",
        [("+380342345617", "work", None)],
        "001",
        {"region": "Івано-Франківськ", "priority": 2},
    ),
    (
        "Тетяна Руденко",
        "ПП «Руденко»",
        [("+380682345618", "mobile", None)],
        None,
        {"region": "Черкаси", "priority": 3},
    ),
    (
        "Богдан Марченко",
        "ТОВ «Енергосервіс»",
        [("+380612345619", "work", None)],
        "002",
        {"region": "Запоріжжя", "priority": 1},
    ),
    (
        "Людмила Бойко",
        "ТОВ «Фармація Сервіс»",
        [("+380992345620", "mobile", None)],
        "001",
        {"region": "Вінниця", "priority": 2},
    ),
    (
        "Олександр Кравчук",
        "ТОВ «Інтертехно»",
        [("+380442345621", "work", None), ("+380502345621", "mobile", None)],
        None,
        {"region": "Київ", "priority": 1},
    ),
    (
        "Галина Поліщук",
        "ФОП Поліщук",
        [("+380952345622", "mobile", None)],
        None,
        {"region": "Житомир", "priority": 3},
    ),
    (
        "Віктор Ковальчук",
        "ТОВ «Ковальчук і Ко»",
        [("+380482345623", "work", None)],
        "002",
        {"region": "Одеса", "priority": 2},
    ),
    (
        "Світлана Мороз",
        "ТОВ «Морозко»",
        [("+380932345624", "mobile", None)],
        None,
        {"region": "Суми", "priority": 3},
    ),
    (
        "Роман Зінченко",
        "ТОВ «Зінченко Трейд»",
        [("+380672345625", "mobile", None)],
        "001",
        {"region": "Чернігів", "priority": 2},
    ),
)

# (contact index, months ago, day, amount in hryvnias)
_SALES: Final = (
    (0, 0, 3, 12_500),
    (0, 1, 12, 8_200),
    (0, 3, 20, 15_000),
    (0, 5, 2, 4_300),
    (2, 0, 8, 3_100),
    (2, 2, 15, 2_900),
    (3, 1, 5, 41_000),
    (3, 4, 9, 23_500),
    (4, 2, 11, 1_200),
    (7, 0, 1, 6_800),
    (8, 1, 18, 9_900),
    (11, 3, 7, 2_450),
    (13, 0, 10, 18_700),
    (15, 2, 22, 5_600),
    (19, 1, 3, 700),
)

# (contact index, days from now (negative: made that long ago), kind, importance, notes, planned)
_EVENTS: Final = (
    (0, -6, "call", "normal", "Просив комерційну пропозицію на 200 упаковок", False),
    (0, 2, "call", "high", "Передзвонити щодо пропозиції", True),
    (2, -3, "call", "normal", "Задоволена доставкою, цікавиться знижками", False),
    (2, 5, "meeting", "normal", "Зустріч у Львові", True),
    (3, -10, "call", "low", "Не на місці, набрати пізніше", False),
    (3, 1, "call", "normal", "Уточнити обсяг замовлення", True),
    (7, -2, "call", "high", "Скарга на якість: передано в сервіс", False),
    (13, 3, "call", "normal", "Продовження договору", True),
)


async def fill_demo(storage: Storage, *, now: datetime | None = None) -> int:
    """Fill a demo database with contacts, sales and events; how many contacts were
    made (0 when the database has contacts already: the demo may restart on one)."""
    now = now or datetime.now(UTC)
    contacts, events, sales = (
        ContactsRepository(storage.db),
        EventsRepository(storage.db),
        SalesRepository(storage.db),
    )

    def work() -> int:
        with storage.atomic():
            if contacts.count():
                return 0
            made = [
                Contact(
                    None, name, company, tuple(Phone(*p) for p in phones), attributes, responsible
                )
                for name, company, phones, responsible, attributes in _CONTACTS
            ]
            keys = [search_keys(c, [["phone"]], "UA") for c in made]
            ids = contacts.insert_many(made, keys, now)
            sales.insert_many(
                [_sale(ids[i], ago, day, uah, now) for i, ago, day, uah in _SALES], now
            )
            for index, days, kind, importance, notes, planned in _EVENTS:
                at = now + timedelta(days=days)
                draft = EventDraft(
                    operator_ext="001",
                    contact_id=ids[index],
                    number=made[index].phones[0].number,
                    kind=kind,
                    importance=importance,
                    notes=notes,
                    state=EventState.SAVED,
                    planned_at=at.replace(hour=9, minute=30) if planned else None,
                    source=EventSource.MANUAL,
                )
                events.insert(draft, now if planned else at)
                if not planned:
                    contacts.touch(ids[index], at)
            return len(ids)

    return await storage.run(work)


def _sale(
    contact_id: int, months_ago: int, day: int, uah: int, now: datetime
) -> tuple[int, None, date, int]:
    year, month = now.year, now.month - months_ago
    while month < 1:
        year, month = year - 1, month + 12
    return contact_id, None, date(year, month, min(day, 28)), uah * 100
