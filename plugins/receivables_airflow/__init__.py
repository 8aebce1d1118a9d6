"""Airflow glue for Receivables Sync: connections → settings, context → job arguments.

Everything here is thin: the work is done by ``receivables.jobs`` (plain Python, no Airflow).
"""
