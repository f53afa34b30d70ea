"""The deterministic synthetic demo lake: every pipeline-written table of the contract.

Demo and test data only: no production module imports this package (a test checks it); the
``demo_lake`` and ``demo_experiments`` management commands import it when they run.

One window day at a time, vectorised with numpy and written with pyarrow, so memory stays flat
whatever the scale. Everything random comes from ``default_rng([seed, stream, day])``: the same
arguments give the same rows. Times are int64 microseconds since the epoch (UTC) until they are
written; ``NEVER`` marks something that has not happened, and anything after the window's end
is written as null (or not at all), as a real lake loaded on that day would hold it.

Shapes worth knowing when reading the numbers: weekends are busier; search -> listing view ~34%,
view -> message ~8%, message -> checkout start ~30%, checkout start -> complete ~65%; durations
are lognormal; about a fifth of identities become users; one day (2/3 into the window) loses ~6%
of events on the way to silver and one day (1/3 in) has a slow gold load. Two things reach back
before the window: consent_changes (earlier banner answers), so consent at any time is knowable,
and the bookings with their refunds, disputes and chargebacks (``history_days``, a year by
default; stream 2), so a 90-day repeat-rate cohort has matured within any window and a first
booking is told from a returning one; events, sessions and touches start with the window.
Marketing touches and digests only ever follow a granted marketing consent. Known crawlers
always see control in experiments.

Modules: ``build`` runs the days (start here); ``world`` is the state every domain shares;
the domains are ``identities``, ``listings``, ``sessions`` (sessions and the funnel's counts),
``events`` (session events), ``consent``, ``exposures`` (experiments), ``bookings``,
``marketing`` (promotions, e-mails, referrals), ``attribution``, ``pipeline`` (bronze, silver,
gold, dead letters), ``support``, ``safety`` and ``seo``; ``sink`` writes the partitions;
``config``, ``timeline``, ``clients``, ``ids`` and ``arrays`` hold what they all use.
"""
