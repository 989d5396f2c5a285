"""Which numbers are erased: the store's erasures, and the shared store's when there is one
(an erasure made at another host counts at every door: the run, `check`, the service,
contract replay)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from gatekeeper.config import Workspace
from gatekeeper.store import Store
from gatekeeper.store import people as people_store


def erased_numbers(ws: Workspace, store: Store) -> pl.DataFrame:
    """phone, erased_ref, erased_at (the first erasure of each number, wherever made)."""
    local = people_store.erased_numbers(store)
    url = ws.config().shared_url
    if url is None:
        return local
    from gatekeeper.shared import erasures, shared_store

    both = pl.concat([local.select(list(erasures.SCHEMA)).cast(dict(erasures.SCHEMA.items())),
                      erasures.erased(shared_store(url))])
    return both.sort("erased_at").unique("phone", keep="first", maintain_order=True)


def share_erasure(ws: Workspace, phone: str, at: dt.datetime, ref: str) -> None:
    """Record the erasure in the shared store first, when there is one."""
    url = ws.config().shared_url
    if url is None:
        return
    from gatekeeper.shared import erasures, shared_store

    erasures.record(shared_store(url), phone, at, ref)
