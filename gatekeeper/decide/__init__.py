"""Deciding: the law as a decision table (policy/), a campaign's run over every
row, and the files a run writes (reports, dialable list).
"""
