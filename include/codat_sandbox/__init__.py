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

Read-after-write lag (CONTRACT §3, §11.2: Codat does not cache written records). Off by default. Switch
it on for a run with ``--read-lag-seconds N`` (or ``CODAT_SANDBOX_READ_LAG_SECONDS=N``), or at run time
as a fault: ``PUT /admin/faults {"read_lag_seconds": N, "data_types": ["invoices"]}`` (``AdminClient.
set_faults(read_lag_seconds=N)``). A record a push writes — and an invoice or credit note a payment
changes — then shows in list queries and single GETs as it was before (or not at all, when new) until N
seconds have passed or the data type is refreshed: ``POST /companies/{id}/data/queue/{dataType}``
(``chartOfAccounts`` for accounts) returns a ``PullOperation`` that is ``Complete`` at once. Push
operations (``GET /companies/{id}/push…``) are never lagged; validation always sees the platform's real
state; the admin API's ``GET /admin/companies/{id}/records/{dataType}`` shows it too. A restart shows
everything (as after a refresh). Use a large N (say 86400) for "only after a refresh".

Connection states (CONTRACT §7; Codat's docs: data already pulled stays readable, nothing new is
pushed). ``PUT /admin/companies/{id}/connection {"status": "Deauthorized"}`` — or with ``"afterPushes":
N`` so the link breaks mid-run after N more accepted pushes. A push to a connection that is not
``Linked`` is answered at once with an ``ErrorMessage``: ``Deauthorized`` → 401, ``Unlinked`` → 403,
``PendingAuth`` → 409, each naming the connection and what to do; operations still ``Pending`` when
the link breaks end ``Failed`` with the same status code and message; a refresh ends ``AuthError``.
Reads keep working and ``GET /companies/{id}/connections`` shows the status and a
``dataConnectionErrors`` entry. ``{"status": "Linked"}`` repairs it.

A company whose data is still syncing: ``PUT /admin/companies/{id}/syncing {"seconds": 30,
"dataTypes": ["invoices"]}`` (``null`` seconds = until ``0`` is set; no ``dataTypes`` = all). Reads of
those types answer 409 ("The data type's dataset has not been requested or is still syncing…", CONTRACT
§1) and ``GET /companies/{id}/dataStatus`` shows them ``Fetching``; pushes are accepted; a refresh queued
meanwhile stays ``Queued`` until the sync ends (``GET /companies/{id}/data/history/{datasetId}``). A
connection's status survives a restart; a pending ``afterPushes`` flip and a syncing window do not.

Paths are Codat's exactly (``Codat-Accounting.yaml``): bank accounts and direct costs are listed per
connection only; any other path answers 404 with an ``ErrorMessage``.

Push bodies are checked against Codat's request schemas first — from the OpenAPI file with
``--oas-dir DIR`` (or ``CODAT_SANDBOX_OAS_DIR``), else the sandbox's own copy (:mod:`schemas`) — then
against the business rules (:mod:`validation`): document totals equal their lines exactly, lines may be
one minor unit off what rounding explains, amounts are whole minor units (JPY 0, BHD 3 decimals).
"""
