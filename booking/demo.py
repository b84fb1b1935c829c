"""Demo venues for `make run`: a restaurant, a clinic and a barber, open most days."""

from __future__ import annotations

from datetime import time

from .model import OpeningRule
from .store import Store


def weekly(days: range | tuple[int, ...], opens: str, closes: str, minutes: int, capacity: int) -> list[OpeningRule]:
    """The same opening on each of `days` (0 = Monday)."""
    return [OpeningRule(d, time.fromisoformat(opens), time.fromisoformat(closes), minutes, capacity) for d in days]


async def seed(store: Store) -> None:
    """Create the demo venues (call on an empty database)."""
    every_day, weekdays, not_monday = range(7), range(6), range(1, 7)
    harbour = await store.add_venue(
        "harbour-kitchen",
        "Harbour Kitchen",
        "restaurant",
        "Europe/London",
        per_person_limit=2,
        address="21 Harbour Quay, London E14 9TS",
        phone="+44 20 7946 0321",
        name_zh="港湾厨房",
        country="GB",
    )
    await store.add_resource(
        harbour,
        "window-tables",
        "Window tables",
        weekly(not_monday, "12:00", "15:00", 30, 12) + weekly(not_monday, "18:00", "22:30", 30, 16),
        max_party=6,
        horizon_days=30,
        min_notice_minutes=30,
        name_zh="靠窗餐桌",
    )
    await store.add_resource(
        harbour,
        "terrace",
        "Terrace",
        weekly(every_day, "11:00", "21:00", 60, 20),
        max_party=8,
        horizon_days=30,
        min_notice_minutes=30,
        name_zh="露台",
    )
    clinic = await store.add_venue(
        "riverside-clinic",
        "Riverside Clinic",
        "clinic",
        "Asia/Shanghai",
        per_person_limit=1,
        address="88 Binjiang Avenue, Pudong, Shanghai",
        phone="+86 21 5555 0188",
        name_zh="滨江诊所",
        country="CN",
    )
    release = dict(release_days_before=7, release_time=time(8))  # 放号: each day opens a week ahead at 08:00
    await store.add_resource(
        clinic,
        "cardiology-wang",
        "Cardiology — Dr. Wang",
        weekly(weekdays, "08:00", "12:00", 30, 5) + weekly(weekdays, "13:30", "17:00", 30, 4),
        max_party=1,
        horizon_days=14,
        name_zh="心内科 — 王医生",
        **release,
    )
    await store.add_resource(
        clinic,
        "paediatrics-li",
        "Paediatrics — Dr. Li",
        weekly(every_day, "08:00", "12:00", 60, 8),
        max_party=1,
        horizon_days=14,
        name_zh="儿科 — 李医生",
        **release,
    )
    barber = await store.add_venue(
        "corner-barber",
        "Corner Barber",
        "barber",
        "America/New_York",
        per_person_limit=1,
        address="214 Orchard Street, New York, NY 10002",
        phone="+1 212 555 0142",
        name_zh="街角理发店",
        country="US",
    )
    await store.add_resource(
        barber,
        "chair-1",
        "Chair 1",
        weekly(not_monday, "09:00", "19:00", 30, 1),
        max_party=1,
        horizon_days=21,
        name_zh="1号理发椅",
    )
