"""The official Codat SDK (``codat-accounting``) pushing invoices one by one: the baseline of target 4.

Runs inside its own virtualenv (``benchmarks/.venv-sdk``), so it imports nothing from this project:

    benchmarks/.venv-sdk/bin/python benchmarks/sdk_push.py BASE_URL invoices.jsonl

Each line of the file is ``{"company_id", "connection_id", "payload"}`` (a Codat invoice as JSON). The
API key comes from ``$CODAT_API_KEY``. The SDK's default retry configuration is kept. Prints one JSON
line: documents, seconds, accepted.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time

from codat_accounting import CodatAccounting
from codat_accounting.models import shared


def main(base_url: str, path: str) -> int:
    auth = "Basic " + base64.b64encode(os.environ["CODAT_API_KEY"].encode()).decode()
    with open(path) as f:
        documents = [json.loads(line) for line in f if line.strip()]
    sdk = CodatAccounting(security=shared.Security(auth_header=auth), server_url=base_url)
    accepted = 0
    started = time.perf_counter()
    for doc in documents:
        response = sdk.invoices.create(request={
            "companyId": doc["company_id"], "connectionId": doc["connection_id"], "invoice": doc["payload"]})
        if response is not None and response.push_operation_key:
            accepted += 1
    seconds = time.perf_counter() - started
    print(json.dumps({"documents": len(documents), "seconds": seconds, "accepted": accepted}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
