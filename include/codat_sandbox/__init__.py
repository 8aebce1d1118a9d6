"""A local server that behaves like Codat's Accounting + Platform API, for tests, demos and benchmarks.

Run it with ``python -m codat_sandbox serve --admin --seed-demo 2`` (see ``__main__``). The pipeline
talks to it only over HTTP; nothing in ``include/receivables`` imports this package.

Modules, one concept each: ``app`` (routes, auth, envelope, idempotency), ``store`` (state + SQLite
write-through), ``validation`` (push rules), ``query`` (Codat query language), ``faults``,
``ratelimit``, ``seed`` (deterministic reference data).

Readings where CONTRACT.md leaves room (on top of its §11):

- A push operation has no ``completedOnUtc`` key while ``Pending`` (the schema's DateTime is not
  nullable); ``statusCode`` is 202 while Pending, 200 Success, 400 Failed, 504 TimedOut.
- Validation runs when the operation settles, against the data as it is then, in request order.
- A ``TimedOut`` operation has empty ``changes`` even when its write landed (clients must read back).
- Injected 429/500/503 faults are answered before the request takes effect and before the
  idempotency cache, so they are never replayed; every other response to a keyed POST is.
- ``lose_response``: the request takes effect and is cached, then the response promises more body
  than it sends and the connection closes: httpx raises ``RemoteProtocolError`` (a ``TransportError``).
- ``X-Rate-Limit-Reset`` is the next UTC midnight as ``YYYY-MM-DDT00:00:00Z``; without a daily quota
  ``X-Rate-Limit-Limit`` reports 2147483647.
- ``GET /companies/{id}/data/info`` returns the company's ``baseCurrency`` (``CompanyDataset``).
"""
