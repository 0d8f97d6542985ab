"""The sync engine: diff (server-side dry-run apply), apply, waves, prune, self-heal, retry, status.

A library the application controller drives; see README.md for the module map.
"""
