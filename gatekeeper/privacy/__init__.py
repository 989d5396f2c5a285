"""The people behind the numbers: objections (optouts/), "where did you get my
number?" (disclosure/), erasure from every copy (erasure/), rights requests
and retention.
"""
