"""Event-driven matching of one subject (服务找人 in real time): where a subject's state comes
from and what an event or a profile change does to its offers.

- :mod:`matcher.live.source` — one way to load a subject (files, database, database over files)
  and the as-of date explain, offers and ingestion evaluate on;
- :mod:`matcher.live.file_index` — a server's population files held sorted by subject, so a
  subject is a lookup and not a scan;
- :mod:`matcher.live.checks` — an ingested record or event checked against the schema;
- :mod:`matcher.live.ledger` — the ``subject_match_changes`` ledger of what ingestion changed;
- :mod:`matcher.live.offers` — the latest run's offers indexed by subject, with the ledger laid
  over them ("my offers");
- :mod:`matcher.live.state` — a subject's state as re-matching starts from, and the re-match;
- :mod:`matcher.live.serial` — one ingestion per subject at a time (an advisory lock on
  PostgreSQL), so concurrent requests record what a sequential replay would.
- :mod:`matcher.live.linked` — across links: the units one member's event reaches (their
  household and its members, parents, children, employers) and their re-match.

Stores and paths are passed in; nothing here knows the API.  What the changes cause (notices,
grants) is the notifier's (:mod:`notifier.ingest`).
"""
