"""Airflow plugin package of Receivables Sync: hooks that turn connections into pipeline clients."""

from receivables_codat.hooks import CodatHook

__all__ = ["CodatHook"]
