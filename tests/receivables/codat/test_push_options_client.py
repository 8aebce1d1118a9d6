"""get_push_options on both clients: Codat's per-connection path, the PushOption model read leniently, and
a 404 (an integration that publishes no model) raised as CodatNotFound for push_options to record."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from receivables.codat import AsyncCodatClient, CodatClient, CodatNotFound
from receivables.codat.models import PushOptionType
from receivables.settings import CodatSettings

SETTINGS = CodatSettings(base_url="https://api.codat.test", api_key="k")
MODEL = {
    "type": "Object",
    "displayName": "Invoice",
    "required": True,
    "futureField": 1,
    "properties": {
        "invoiceNumber": {
            "type": "String",
            "displayName": "Invoice number",
            "description": "d",
            "required": False,
            "validation": {
                "warnings": [{"field": "InvoiceNumber", "details": "Max length of 21 characters."}],
                "information": None,
            },
        },
        "status": {
            "type": "String",
            "displayName": "Status",
            "description": "s",
            "required": True,
            "options": [{"value": "Submitted", "type": "String", "required": False}],
        },
        "attachments": {"type": "SomethingNew", "displayName": "A", "description": "a", "required": False},
    },
}


def transport(seen: list[str], status: int = 200, body: object = MODEL) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        content = b"" if body is None else orjson.dumps(body)
        return httpx.Response(status, content=content, headers={"content-type": "application/json"})

    return httpx.MockTransport(answer)


def test_the_sync_client_reads_a_connections_model():
    seen: list[str] = []
    with CodatClient(SETTINGS, transport=transport(seen)) as client:
        model = client.get_push_options("c 1", "k/1", "invoices")
    assert seen == ["/companies/c%201/connections/k%2F1/options/invoices"]  # ids cannot change the path
    props = dict(model.walk())
    assert props["invoiceNumber"].validation.details() == ["Max length of 21 characters."]
    assert [o.value for o in props["status"].options] == ["Submitted"]
    assert props["attachments"].type is PushOptionType.Unknown  # a type Codat adds later still reads
    assert not model.is_empty


def test_the_async_client_reads_the_same():
    seen: list[str] = []

    async def read():
        async with AsyncCodatClient(SETTINGS, transport=transport(seen)) as client:
            return await client.get_push_options("c1", "k1", "creditNotes")

    model = asyncio.run(read())
    assert seen == ["/companies/c1/connections/k1/options/creditNotes"]
    assert model.display_name == "Invoice"


def test_an_empty_answer_is_an_empty_model_and_a_404_is_raised():
    with CodatClient(SETTINGS, transport=transport([], body=None)) as client:
        assert client.get_push_options("c1", "k1", "payments").is_empty
    error = {
        "statusCode": 404,
        "service": "PublicApi",
        "error": "Datatype payments not supported by platform(s)",
    }
    with CodatClient(SETTINGS, transport=transport([], 404, error)) as client, pytest.raises(CodatNotFound):
        client.get_push_options("c1", "k1", "payments")


def test_a_failing_options_endpoint_is_given_up_after_seconds_not_the_full_retry_deadline():
    from receivables.codat import CodatServerError
    from receivables.codat.client import OPTIONS_RETRY_SECONDS

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    broken = transport([], 500, {"statusCode": 500, "service": "PublicApi", "error": "boom"})
    settings = CodatSettings(base_url="https://api.codat.test", api_key="k", retry_deadline_seconds=300)
    with CodatClient(settings, transport=broken, sleep=sleep, clock=lambda: now[0]) as client:
        with pytest.raises(CodatServerError):
            client.get_push_options("c1", "k1", "invoices")
        assert 0 < now[0] <= OPTIONS_RETRY_SECONDS
        now[0] = 0.0
        with pytest.raises(CodatServerError):
            client.get_record("c1", "invoices", "i1")  # other reads keep the full deadline
        assert now[0] > OPTIONS_RETRY_SECONDS
