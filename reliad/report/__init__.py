"""The monthly availability report (issue 15): one calendar month of the ledger's figures, the
backup catalog, verification, drills and the audit log, judged clause by clause against the
standard, rendered as JSON, Markdown, HTML and PDF in English and Chinese.

A wing of its own that only calls downward: `period` fixes the month, `backups`, `drillrows`,
`auditlog` and `ledgerview` gather, `model` puts every figure into one JSON-able dict, and
`render` turns that dict (and nothing else) into the output formats. The ledger's figures come
from `reliad.ledger.stats.compute`, the function behind `reliad stats`; the report never
recomputes one of them.
"""
