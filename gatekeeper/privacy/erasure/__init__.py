"""Erasure (GDPR art. 17): from every copy the workspace holds (erase.py),
and from a received list file without disturbing the rest (list_files.py).
"""
