"""Gatekeeper: decides which numbers a call centre may dial, and proves why.

The folders follow the pipeline, then the domains that outlive a list:

    intake/         lists in: source manifests, readers, phone numbers, load
    registers/      do-not-call registers' answers (Italy's RPO): file exchange, web service
    decide/         the law as a decision table (policy/), a campaign's run, its reports
    dial/           after the list: agencies, the contact ledger, "may I dial now?", contracts
    privacy/        objections, "where did you get my number?", erasure, requests, retention
    suppliers/      list suppliers: due diligence, consent audits
    evidence/       audit verify/anchor, backup/restore
    store/          the DuckDB store (the one seam to it)
    service/        the HTTP service: the dialers' API, the agents' page, the console
    jurisdictions/  a country is a module: numbering, zone, hours, holidays, register, table
    core/           errors, instants, fingerprints, output files, shared helpers
    cli.py          the commands, thin over the library
"""

__version__ = "0.1.0"
