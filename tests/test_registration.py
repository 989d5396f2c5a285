"""The named fact "registered, and since when at the latest" (policy/registration.py) at its
boundaries, from answers recorded in a real DuckDB store as every adapter records them."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from gatekeeper.decide.policy import registration
from gatekeeper.registers import record_checks, rpo_status
from gatekeeper.store import Store
from gatekeeper.store.rpo import check_summary

PHONE = "+393331234567"
AS_OF = dt.datetime(2026, 11, 22, 11)
T = dt.datetime(2026, 11, 10, 9)
DAY = dt.timedelta(days=1)


def status(*answers: tuple[dt.datetime, bool, dt.datetime | None]) -> dict[str, object]:
    """The one number's status after these answers (checked_at, registered, adapter's
    date), each its own exchange."""
    store = Store(duckdb.connect(":memory:"))
    for i, (at, registered, since) in enumerate(answers):
        record_checks(store, pl.DataFrame(
            {"phone": [PHONE], "registered": [registered], "registered_at": [since]},
            schema_overrides={"registered_at": pl.Datetime("us")}), at, f"x{i}", "file")
    every = rpo_status(store, AS_OF)
    one = rpo_status(store, AS_OF, PHONE)
    assert every.rows() == one.drop("phone").rows()  # the two ways of asking agree
    row: dict[str, object] = one.row(0, named=True)
    return row


def test_two_answers_at_one_instant_that_disagree_count_as_registered() -> None:
    row = status((T, False, None), (T, True, None))
    assert row["registered"] is True
    # no "registered" answer after the "not registered" one: nothing bounds the
    # registration, so no consent is provably later (fail closed)
    assert row["registration_bound"] is None


def test_agreeing_answers_at_one_instant() -> None:
    assert status((T, True, None), (T, True, None))["registration_bound"] == T
    row = status((T, False, None), (T, False, None))
    assert (row["registered"], row["registration_bound"]) == (False, None)


def test_no_adapter_date_the_first_registered_answer_bounds_it() -> None:
    row = status((T, True, None), (T + DAY, True, None), (T + 2 * DAY, True, None))
    assert (row["registered"], row["registration_bound"]) == (True, T)
    assert row["rpo_checked_at"] == T + 2 * DAY


def test_an_adapter_date_wins_over_the_first_answer() -> None:
    row = status((T, True, None), (T + DAY, True, T - 30 * DAY))
    assert row["registration_bound"] == T - 30 * DAY


def test_re_registration_after_a_not_registered_answer() -> None:
    """Registered, left the register, registered again: only the answers since the
    "not registered" one date the current registration; the old adapter date is over."""
    row = status((T - 20 * DAY, True, T - 40 * DAY), (T - 10 * DAY, False, None),
                 (T, True, None), (T + DAY, True, None))
    assert (row["registered"], row["registration_bound"]) == (True, T)
    row = status((T - 20 * DAY, True, T - 40 * DAY), (T - 10 * DAY, False, None),
                 (T, True, T - 5 * DAY))
    assert row["registration_bound"] == T - 5 * DAY


def test_left_the_register_is_not_registered_and_bounds_nothing() -> None:
    row = status((T - DAY, True, None), (T, False, None))
    assert (row["registered"], row["registration_bound"]) == (False, None)


def test_answers_after_as_of_are_not_read() -> None:
    row = status((T, False, None), (AS_OF + dt.timedelta(seconds=1), True, None))
    assert (row["registered"], row["rpo_checked_at"]) == (False, T)


def test_the_store_only_sums_up_the_answers() -> None:
    """The SQL hands over the summary's columns; the facts are policy's expressions."""
    store = Store(duckdb.connect(":memory:"))
    record_checks(store, pl.DataFrame({"phone": [PHONE], "registered": [True],
                                       "registered_at": [None]},
                                      schema_overrides={"registered_at": pl.Datetime("us")}),
                  T, "x", "file")
    summary = check_summary(store, AS_OF)
    assert set(registration.SUMMARY) <= set(summary.columns)
    assert "registered" not in summary.columns and "registration_bound" not in summary.columns


def test_the_fact_on_a_summary_frame() -> None:
    """The expressions on their own: a number never answered registered is not, and one
    whose newest answers disagree is."""
    none = pl.lit(None, pl.Datetime("us"))
    frame = pl.DataFrame({"phone_key": [1, 2, 3]}).with_columns(
        pl.Series("rpo_checked_at", [T, T, T]),
        pl.Series("newest_registered", [None, T, T - DAY], dtype=pl.Datetime("us")),
        pl.Series("newest_not_registered", [T, T, None], dtype=pl.Datetime("us")),
        none.alias("adapter_date"),
        pl.Series("first_registered", [None, T - DAY, T - 3 * DAY], dtype=pl.Datetime("us")),
        none.alias("adapter_date_since"), none.alias("first_registered_since"))
    out = registration.status(frame)
    assert out["registered"].to_list() == [False, True, False]
    assert out["registration_bound"].to_list() == [None, None, T - 3 * DAY]
