"""Gatekeeper: decides which numbers an Italian call centre may dial, and proves why.

The package reads like the pipeline:

    sources (manifests, readers) -> normalise -> store (load)
    -> registry (RPO results) + optouts (journal) -> policy (decision table)
    -> run (reports) -> cli
"""

__version__ = "0.1.0"
