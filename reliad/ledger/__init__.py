"""The reliability ledger: service probes, incidents, maintenance, utilisation and the figures
(availability, MTBF, MTRS, daily failure rate) the standard asks for (R1-R5).

A wing of its own: it calls the catalog and the configuration below it, and nothing below
imports it. `store` holds all SQL of `state_dir/ledger.db`; `figures` are pure functions;
`stats.compute` puts them together for a period.
"""
