"""The small things every stage uses: errors, instants, fingerprints, output files,
progress, column names and polars helpers. Nothing here knows the law.
"""
