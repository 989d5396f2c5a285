"""The evidence about the evidence: `audit verify`/`anchor` (is everything whole and
unchanged?) and `backup`/`restore` (a consistent copy at one instant).
"""
