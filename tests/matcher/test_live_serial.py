"""One ingestion per subject at a time; other subjects are not held up."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from core.db import get_engine
from matcher.live.serial import SubjectLocks


def test_a_second_transaction_of_one_subject_waits_for_the_first(tmp_path: Path) -> None:
    engine, locks = get_engine(f"sqlite:///{tmp_path}/x.db"), SubjectLocks()
    order: list[str] = []
    inside = threading.Event()

    def first() -> None:
        with locks.transaction(engine, "resident", "P1"):
            inside.set()
            time.sleep(0.2)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait()
    with locks.transaction(engine, "resident", "P1"):
        order.append("second in")
    thread.join()
    assert order == ["first done", "second in"]


def test_another_subject_does_not_wait(tmp_path: Path) -> None:
    engine, locks = get_engine(f"sqlite:///{tmp_path}/x.db"), SubjectLocks()
    with locks.transaction(engine, "resident", "P1"):
        done = threading.Event()

        def other() -> None:
            with locks.transaction(engine, "resident", "P2"):
                done.set()

        thread = threading.Thread(target=other)
        thread.start()
        assert done.wait(timeout=5)
        thread.join()
    assert locks._locks == {}  # nothing kept once no one holds or waits
