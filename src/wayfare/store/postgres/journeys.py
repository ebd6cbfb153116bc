"""The journey store on PostgreSQL: the catalog and reports of store/sql_journeys.py, the run
store (runs.py) and the leases (leases.py), over one pool.

Journey changes reach engines through ``generation``, a counter that a trigger on
``journeys`` (migration 0001) moves in the change's own transaction, for every version added
or changed by any connection; the engine's commits and reads never touch it.
"""

from __future__ import annotations

from wayfare.store.postgres.batches import LOCK, NODE_OF_STATE
from wayfare.store.postgres.leases import PostgresLeases
from wayfare.store.postgres.runs import PostgresRunStore
from wayfare.store.sql_journeys import SQLJourneyCatalog, SQLJourneyReports


class PostgresJourneyStore(PostgresRunStore, PostgresLeases, SQLJourneyCatalog, SQLJourneyReports):
    """JourneyStore and PartitionLeases on PostgreSQL. Owns its pool: ``close`` closes it.
    Calls are short, each on a connection of the pool; ``commit`` is one transaction on
    one."""

    node_of_state = NODE_OF_STATE
    lock = LOCK
    state_param = "?::json"
