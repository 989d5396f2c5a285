"""Registration on the register as a named fact: what a number's register answers prove.

The register answers "registered" or "not registered" at the instant it checked, and
mostly gives no date of registration (the RPO never does), yet the law asks two things of
it: is the number registered now (rules 7-8), and was a consent given after the
registration (L. 5/2018 art. 1 c.5: registering revokes every earlier consent)? Both are
answered here from the store's per-number summary of its answers (store/rpo.py
`check_summary`, aggregation only), so the reasoning is read, tested and cited in one
place. What the answers cannot prove is read the way that does not call (fail closed).
"""

from __future__ import annotations

import polars as pl

# What the store sums up of one number's answers up to as_of (store/rpo.py check_summary).
NEWEST_CHECK = "rpo_checked_at"  # the newest answer's instant
NEWEST_REGISTERED = "newest_registered"  # the newest "registered" answer's instant
NEWEST_NOT_REGISTERED = "newest_not_registered"  # the newest "not registered" one's
ADAPTER_DATE = "adapter_date"  # the latest registration date an adapter gave, any answer
FIRST_REGISTERED = "first_registered"  # the first "registered" answer's instant
# The same two over the "registered" answers after the newest "not registered" one.
ADAPTER_DATE_SINCE = "adapter_date_since"
FIRST_REGISTERED_SINCE = "first_registered_since"
SUMMARY = (NEWEST_CHECK, NEWEST_REGISTERED, NEWEST_NOT_REGISTERED, ADAPTER_DATE,
           FIRST_REGISTERED, ADAPTER_DATE_SINCE, FIRST_REGISTERED_SINCE)

# The named facts, as the decision table reads them (facts.py).
REGISTERED = "registered"
REGISTRATION_BOUND = "registration_bound"


def registered() -> pl.Expr:
    """The newest answer says registered (PRODUCT.md: "the newest valid RPO result").

    Two answers at the same instant that disagree (two exchanges stamped alike, one saying
    registered) count as registered: which is newer cannot be known, and reading them as
    "not registered" would call a person who may have opposed (fail closed). A number with
    no answer is not registered here; rule 7 (RPO_NOT_CHECKED) stops it before this is read.
    """
    return (pl.col(NEWEST_REGISTERED) == pl.col(NEWEST_CHECK)).fill_null(False)


def registration_bound() -> pl.Expr:
    """The instant the current registration happened no later than: a consent dated after
    it is provably later than the registration, one on or before it is not (rule 8,
    CONSENT_BEFORE_RPO).

    An adapter's registration date wins (PRODUCT.md: "where a registry adapter does
    supply a registration date, use it"); without one, the first "registered" answer of
    the current run: the person was registered by then, and may have been long before.
    The current run starts after the newest "not registered" answer, because a number
    registered again after leaving the register revoked the consents of the time between
    (its earlier registration is over and bounds nothing). When the newest answers
    disagree at one instant there is no "registered" answer after the "not registered"
    one: the bound is null, and a null bound proves no consent later (fail closed).
    """
    return (pl.when(pl.col(NEWEST_NOT_REGISTERED).is_null())
            .then(pl.coalesce(ADAPTER_DATE, FIRST_REGISTERED))
            .otherwise(pl.coalesce(ADAPTER_DATE_SINCE, FIRST_REGISTERED_SINCE)))


def status(summary: pl.DataFrame) -> pl.DataFrame:
    """The summary's keys (phone and/or phone_key, as given), the newest check and the two
    named facts: what a run and the dial-time answer read of the register."""
    keys = [c for c in ("phone", "phone_key") if c in summary.columns]
    return summary.select(*keys, NEWEST_CHECK, registered().alias(REGISTERED),
                          registration_bound().alias(REGISTRATION_BOUND))
