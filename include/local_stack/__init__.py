"""The local stack: the sandbox API and a SQLite warehouse on this machine, for `make demo` and `make sync`.

Not part of the pipeline (which talks to whatever the Airflow connections name); this package starts
the sandbox as a separate process and points the connections at it when the user has not set them.
"""
