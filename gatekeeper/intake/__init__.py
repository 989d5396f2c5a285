"""Lists in: where numbers come from (source manifests, suppliers' files read as their
programs show them), what the numbers are (normalise) and the store's copy (load)."""
