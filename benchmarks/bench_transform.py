"""Target 1 of issue 14 — transform: a night's invoices, payments and fees → Codat payload bytes + hashes.

Variants on the same generated batch (10 companies, invoices of 5 lines, one payment per two invoices
with their allocations, and the card payments' fees), all in the same run:

- ``iterrows reference`` (baseline): ``tests/receivables/reference_transform.py``, one document at a
  time with dicts and ``orjson.dumps`` — the plain reading of the rules. It is slow, so it runs on the
  first ``--reference-invoices`` invoices (and their payments);
- ``data engineer``: what a data engineer would write — ``groupby`` + ``to_dict("records")``, Decimal
  arithmetic through ``money.round_half_up``, dicts and ``json.dumps`` with Decimal (as text, the usual
  ``default=str``), plus the hash; on the first ``--engineer-invoices`` invoices;
- ``transform`` (ours): ``invoices_to_payloads`` + ``payments_to_payloads`` + ``fees_to_payloads``,
  column-wise, on the whole night, ``--repeat`` times (best and median printed, with the load average);
- ``serialisation floor``: ``orjson.dumps`` over the same payloads already built as dicts (numbers as
  ``orjson.Fragment``, checked to give our exact bytes), without building them and without hashes.

Ours must give byte-identical payloads to the reference on its share of the batch; the script stops if not.

The batch is the generator's, written to a scratch PostgreSQL database and read back a company at a time
as sync reads it (``--source generator`` skips the round trip: every amount is then an object of its own,
which the warehouse read never hands over).

    python -m benchmarks.bench_transform --invoices 200000 --reference-invoices 5000 --repeat 3
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import statistics
import time
from datetime import datetime
from decimal import Decimal, localcontext

import orjson
import pandas as pd
from tests.receivables import reference_transform as reference

from benchmarks import data
from benchmarks.harness import Run, Target, header, measure, parser, print_table, print_targets
from receivables import extract, transform
from receivables.mappings import ISSUE_COLUMNS, resolve_mappings
from receivables.money import MONEY_CONTEXT, round_half_up
from receivables.warehouse import create_input_tables, read_frame, write_frame
from receivables.warehouse.schema import metadata
from sample_data import company_rows

COMPANIES = 10
LINES_PER_INVOICE = 5


class Night:
    """The inputs transform needs for one generated night: batch frames and the company context."""

    def __init__(self, invoices: int, payment_ratio: float = 0.5) -> None:
        self.companies = data.offline_companies(COMPANIES)
        spec = data.spec_for(COMPANIES, invoices=invoices, lines_per_invoice=LINES_PER_INVOICE,
                             payment_ratio=payment_ratio)
        self.batch = data.generated_batch(self.companies, spec)
        self.company_frame, mapping_frame = company_rows(self.companies)
        self.lookup = resolve_mappings(mapping_frame, pd.DataFrame(columns=ISSUE_COLUMNS))
        taxes = extract.REFERENCE_TYPES[2]
        self.tax_rates = pd.concat([
            extract.reference_frame(taxes, data.reference_records(c)["taxRates"], company_id=c.company_id,
                                    fetched_at=datetime(2026, 11, 20))
            for c in self.companies], ignore_index=True)
        # As if customers and invoices were already in the platform (payments link to both).
        ids = [("customer", self.batch["ar_customers"]), ("invoice", self.batch["ar_invoices"])]
        self.platform_ids = pd.concat([
            pd.DataFrame({"company_id": frame["company_id"].astype(str), "document_type": kind,
                          "source_id": frame[f"{kind}_id"].astype(str),
                          "platform_id": "P-" + frame[f"{kind}_id"].astype(str)})
            for kind, frame in ids], ignore_index=True)

    @property
    def invoices(self) -> pd.DataFrame:
        return self.batch["ar_invoices"]

    @property
    def payments(self) -> pd.DataFrame:
        return self.batch["ar_payments"]

    def read_back(self) -> Night:
        """This night as sync receives it: the batch written to a scratch PostgreSQL warehouse and read
        back a company at a time with ``read_frame`` (COPY for a big read, a plain cursor for a small one),
        so each NUMERIC column holds one Decimal object per distinct stored amount, as in the pipeline."""
        part = object.__new__(Night)
        part.__dict__.update(self.__dict__)
        with data.scratch_database("transform") as (_, engine):
            create_input_tables(engine)
            for name, frame in self.batch.items():
                write_frame(engine, metadata.tables[name], frame)
            part.batch = {name: pd.concat([read_frame(engine, metadata.tables[name],
                                                      where={"company_id": c.company_id})
                                           for c in self.companies], ignore_index=True)
                          for name in self.batch}
        return part

    def share(self, invoices: int) -> Night:
        """The first ``invoices`` invoices of each company's share, with their lines and payments."""
        part = object.__new__(Night)
        part.__dict__.update(self.__dict__)
        per_company = max(1, invoices // COMPANIES)
        inv = self.invoices.groupby("company_id", sort=False).head(per_company)
        keys = set(zip(inv["company_id"], inv["invoice_id"], strict=True))
        lines = self.batch["ar_invoice_lines"]
        alloc = self.batch["ar_payment_allocations"]
        in_share = [k in keys for k in zip(alloc["company_id"], alloc["target_id"], strict=True)]
        pay_ids = set(zip(alloc.loc[in_share, "company_id"], alloc.loc[in_share, "payment_id"], strict=True))
        pays = self.payments[
            [k in pay_ids for k in zip(self.payments["company_id"], self.payments["payment_id"], strict=True)]
        ]
        customers = set(zip(inv["company_id"], inv["customer_id"], strict=True)) | set(
            zip(pays["company_id"], pays["customer_id"], strict=True)
        )
        share_alloc = alloc[
            [k in pay_ids for k in zip(alloc["company_id"], alloc["payment_id"], strict=True)]
        ]
        invoices = keys | set(zip(share_alloc["company_id"], share_alloc["target_id"], strict=True))
        ids = self.platform_ids
        wanted = [
            (kind == "invoice" and k in invoices) or (kind == "customer" and k in customers)
            for kind, k in zip(
                ids["document_type"], zip(ids["company_id"], ids["source_id"], strict=True), strict=True
            )
        ]
        part.platform_ids = ids[wanted].reset_index(drop=True)  # the share's own, as its batch would have
        part.batch = {
            **self.batch,
            "ar_invoices": inv,
            "ar_invoice_lines": lines[
                [k in keys for k in zip(lines["company_id"], lines["invoice_id"], strict=True)]
            ],
            "ar_payments": pays,
            "ar_payment_allocations": share_alloc,
        }
        return part


def ours(night: Night) -> list[pd.DataFrame]:
    kw = {"companies": night.company_frame, "mappings": night.lookup}
    ids = {"platform_ids": night.platform_ids}
    return [
        transform.invoices_to_payloads(
            night.invoices, night.batch["ar_invoice_lines"], tax_rates=night.tax_rates, **kw, **ids
        ),
        transform.payments_to_payloads(night.payments, night.batch["ar_payment_allocations"], **kw, **ids),
        transform.fees_to_payloads(night.payments, **kw),
    ]


def per_row(night: Night) -> list[list[dict]]:
    return [
        reference.sales_documents(
            "invoice",
            night.invoices,
            night.batch["ar_invoice_lines"],
            night.company_frame,
            night.lookup,
            night.tax_rates,
            night.platform_ids,
        ),
        reference.payments(
            night.payments,
            night.batch["ar_payment_allocations"],
            night.company_frame,
            night.lookup,
            night.platform_ids,
        ),
        reference.fees(night.payments, night.company_frame, night.lookup),
    ]


def data_engineer(night: Night) -> list[tuple[bytes, str]]:
    """The version a data engineer would write first: rows as dicts (``groupby`` + ``to_dict("records")``),
    the money rules in Decimal, the payload a dict, ``json.dumps`` with Decimal written as text."""
    comp_frame, lookup = night.company_frame, night.lookup
    base = dict(zip(comp_frame["company_id"], comp_frame["base_currency"], strict=True))
    rates = {}
    for t in night.tax_rates.to_dict("records"):
        eff = t["effective_tax_rate"]
        rates[(t["company_id"], t["platform_id"])] = eff if pd.notna(eff) else t["total_tax_rate"]
    ids = {
        (r["company_id"], r["document_type"], r["source_id"]): r["platform_id"]
        for r in night.platform_ids.to_dict("records")
    }

    def dumps(payload: dict) -> tuple[bytes, str]:
        body = json.dumps(payload, default=str, separators=(",", ":")).encode()
        return body, hashlib.sha256(body).hexdigest()

    def day(value) -> str:
        return pd.Timestamp(value).strftime("%Y-%m-%dT00:00:00")

    def rate(row: dict):
        return 1 if row["currency"] == base[row["company_id"]] else row["currency_rate"]

    out = []

    def grouped(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, list[dict]]:
        # One to_dict over the whole frame and the groupby's row positions: a to_dict per group is
        # ~50x slower in pandas 3, and nobody would keep that after the first run.
        records = frame.to_dict("records")
        return {
            key: [records[i] for i in rows] for key, rows in frame.groupby(keys, sort=False).indices.items()
        }

    lines = grouped(night.batch["ar_invoice_lines"], ["company_id", "invoice_id"])
    for inv in night.invoices.sort_values(["company_id", "invoice_id"]).to_dict("records"):
        comp, cur = inv["company_id"], inv["currency"]
        items, sub_sum, tax_sum, disc_sum = [], Decimal(0), Decimal(0), Decimal(0)
        for line in sorted(lines.get((comp, inv["invoice_id"]), []), key=lambda r: r["line_no"]):
            with localcontext(MONEY_CONTEXT):
                disc = round_half_up(line["discount_amount"] or Decimal(0), cur)
                sub = round_half_up(line["quantity"] * line["unit_amount"] - disc, cur)
                tax_id = (
                    lookup.platform_id(comp, "tax_rate", line["tax_code"])
                    if pd.notna(line["tax_code"])
                    else None
                )
                tax = (
                    round_half_up(sub * rates[(comp, tax_id)] / 100, cur)
                    if tax_id
                    else round_half_up(Decimal(0), cur)
                )
            item = {
                "description": line["description"],
                "unitAmount": line["unit_amount"],
                "quantity": line["quantity"],
                "discountAmount": disc,
                "subTotal": sub,
                "taxAmount": tax,
                "totalAmount": sub + tax,
                "accountRef": {"id": lookup.platform_id(comp, "income_account", line["revenue_code"])},
            }
            if tax_id:
                item["taxRateRef"] = {"id": tax_id}
            if pd.notna(line["tracking_code"]):
                item["tracking"] = {
                    "categoryRefs": [
                        {"id": lookup.platform_id(comp, "tracking_category", line["tracking_code"])}
                    ],
                    "isBilledTo": "Unknown",
                    "isRebilledTo": "Unknown",
                }
            items.append(item)
            sub_sum, tax_sum, disc_sum = sub_sum + sub, tax_sum + tax, disc_sum + disc
        total = sub_sum + tax_sum
        out.append(
            dumps(
                {
                    "invoiceNumber": inv["invoice_number"],
                    "customerRef": {"id": ids[(comp, "customer", inv["customer_id"])]},
                    "issueDate": day(inv["issue_date"]),
                    "dueDate": day(inv["due_date"]),
                    "currency": cur,
                    "currencyRate": rate(inv),
                    "status": inv["status"].capitalize(),
                    "note": inv["note"],
                    "lineItems": items,
                    "subTotal": sub_sum,
                    "totalDiscount": disc_sum,
                    "totalTaxAmount": tax_sum,
                    "totalAmount": total,
                    "amountDue": total,
                }
            )
        )
    allocations = grouped(night.batch["ar_payment_allocations"], ["company_id", "payment_id"])
    for pay in night.payments.sort_values(["company_id", "payment_id"]).to_dict("records"):
        comp, cur = pay["company_id"], pay["currency"]
        amount = round_half_up(pay["amount"], cur)
        customer = ids[(comp, "customer", pay["customer_id"])]
        body_lines, allocated = [], Decimal(0)
        for a in sorted(
            allocations.get((comp, pay["payment_id"]), []), key=lambda r: (r["target_type"], r["target_id"])
        ):
            x = round_half_up(a["amount"], cur)
            link = {
                "type": "Invoice" if a["target_type"] == "invoice" else "CreditNote",
                "id": ids[(comp, a["target_type"], a["target_id"])],
            }
            signed = x if a["target_type"] == "invoice" else -x
            body_lines.append({"amount": signed, "links": [{**link, "amount": -signed}]})
            allocated += signed
        if amount != allocated or not body_lines:
            body_lines.append(
                {
                    "amount": amount - allocated,
                    "links": [{"type": "PaymentOnAccount", "id": customer, "amount": allocated - amount}],
                }
            )
        reference_text = pay["reference"] or pay["payment_id"]
        account = lookup.platform_id(comp, "payment_account", pay["method"])
        out.append(
            dumps(
                {
                    "customerRef": {"id": customer},
                    "accountRef": {"id": account},
                    "date": day(pay["paid_on"]),
                    "currency": cur,
                    "currencyRate": rate(pay),
                    "totalAmount": amount,
                    "reference": reference_text,
                    "lines": body_lines,
                }
            )
        )
        if pay["fee_amount"] and pay["fee_amount"] > 0:
            fee, zero = round_half_up(pay["fee_amount"], cur), round_half_up(Decimal(0), cur)
            paid = {"currency": cur, "currencyRate": rate(pay), "totalAmount": fee}
            out.append(
                dumps(
                    {
                        "reference": reference_text,
                        "note": f"Payment fee withheld from payment {reference_text}",
                        "issueDate": day(pay["paid_on"]),
                        "currency": cur,
                        "currencyRate": rate(pay),
                        "lineItems": [
                            {
                                "description": f"Payment fee for {reference_text}",
                                "unitAmount": fee,
                                "quantity": 1,
                                "subTotal": fee,
                                "taxAmount": zero,
                                "totalAmount": fee,
                                "accountRef": {"id": lookup.platform_id(comp, "fee_account", None)},
                            }
                        ],
                        "paymentAllocations": [
                            {
                                "payment": {
                                    "accountRef": {"id": account},
                                    **paid,
                                    "paidOnDate": day(pay["paid_on"]),
                                },
                                "allocation": {**paid, "allocatedOnDate": day(pay["paid_on"])},
                            }
                        ],
                        "subTotal": fee,
                        "taxAmount": zero,
                        "totalAmount": fee,
                    }
                )
            )
    return out


def as_dicts(frames: list[pd.DataFrame]) -> list[dict]:
    """Our payloads as the dicts a serialiser would be handed (numbers as ``orjson.Fragment``, exact text)."""

    def fragment(text: str) -> orjson.Fragment:
        return orjson.Fragment(text.encode())

    payloads = [p for f in frames for p in f["payload"]]
    dicts = [json.loads(p, parse_float=fragment, parse_int=fragment) for p in payloads]
    if [orjson.dumps(d) for d in dicts] != payloads:
        raise SystemExit("the serialisation floor's dicts do not give our bytes back")
    return dicts


def check_identical(got: list[pd.DataFrame], want: list[list[dict]]) -> int:
    """Compare every payload byte for byte; return how many documents were compared."""
    compared = 0
    for frame, rows in zip(got, want, strict=True):
        records = frame.to_dict("records")
        if len(records) != len(rows):
            raise SystemExit(f"transform gave {len(records)} documents, the reference {len(rows)}")
        for g, w in zip(records, rows, strict=True):
            if g != w:
                raise SystemExit(
                    f"payload differs for {g['document_type']} {g['source_id']}:\n"
                    f"  ours:      {g['payload'][:300]!r}\n  reference: {w['payload'][:300]!r}"
                )
        compared += len(records)
    return compared


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def measured(label: str, fn, *, items: int, repeat: int = 1, extra=None) -> Run:
    """``repeat`` timed runs (each its own :func:`measure`): the fastest counts; the median and the load
    average (1 / 5 min) around the runs are noted, since the machine is shared."""
    before = load()
    cpu: list[tuple[float, float]] = []

    def timed():
        start = resource.getrusage(resource.RUSAGE_SELF)
        try:
            return fn()
        finally:
            end = resource.getrusage(resource.RUSAGE_SELF)
            cpu.append((end.ru_utime - start.ru_utime, end.ru_stime - start.ru_stime))

    runs = [measure(label, timed, items=items, unit="invoices", extra=extra) for _ in range(repeat)]
    best = min(runs, key=lambda r: r.seconds)
    best.extra["load"] = f"{before} → {load()}"
    if repeat > 1:
        best.extra.update(
            {
                "runs": repeat,
                "median s": round(statistics.median(r.seconds for r in runs), 2),
                "all s": "/".join(f"{r.seconds:.2f}" for r in runs),
            }
        )
    # CPU of each run in this process (user / system): the kernel's share is page faults on fresh memory.
    best.extra["user/sys s"] = " ".join(f"{u:.2f}/{s:.2f}" for u, s in cpu)
    best.peak_rss = max(r.peak_rss or 0 for r in runs) or None
    return best


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--invoices", type=int, default=20_000, help="invoices in the night (default 20,000)")
    p.add_argument(
        "--reference-invoices",
        type=int,
        default=2_000,
        help="invoices given to the slow per-row reference (default 2,000)",
    )
    p.add_argument(
        "--engineer-invoices",
        type=int,
        default=5_000,
        help="invoices given to the data engineer's version (default 5,000)",
    )
    p.add_argument("--repeat", type=int, default=3, help="runs of ours (best and median shown; default 3)")
    p.add_argument("--source", choices=("warehouse", "generator"), default="warehouse",
                   help="the batch as read back from a PostgreSQL warehouse, as sync gets it (default), or "
                        "as the generator made it (a Decimal object of its own in every cell)")
    args = p.parse_args(argv)
    header(
        f"Transform — {args.invoices:,} invoices × {LINES_PER_INVOICE} lines + payments + fees"
        " → payload bytes",
        args,
    )
    night = Night(args.invoices)
    if args.source == "warehouse":
        started = time.perf_counter()
        night = night.read_back()
        print(f"\n- input: the batch read back from PostgreSQL a company at a time, as sync reads it "
              f"({time.perf_counter() - started:.0f}s of set-up, not timed)")
    else:
        print("\n- input: the batch as generated (every amount a Decimal object of its own)")
    share = night.share(min(args.reference_invoices, args.invoices))
    engineer = night.share(min(args.engineer_invoices, args.invoices))
    n_inv, n_pay = len(night.invoices), len(night.payments)
    reference_output: list = []
    runs: list[Run] = [
        measured(
            "iterrows reference", lambda: reference_output.extend(per_row(share)), items=len(share.invoices)
        ),
        measured("data engineer", lambda: data_engineer(engineer), items=len(engineer.invoices)),
        measured(
            "transform",
            lambda: ours(night),
            items=n_inv,
            repeat=args.repeat,
            extra=lambda out: {
                "documents": sum(len(f) for f in out),
                "payload MiB": round(sum(f["payload"].map(len).sum() for f in out) / 2**20, 1),
            },
        ),
    ]
    dicts = as_dicts(ours(night))
    runs.append(
        measured(
            "serialisation floor", lambda: [orjson.dumps(d) for d in dicts], items=n_inv, repeat=args.repeat
        )
    )
    compared = check_identical(ours(share), reference_output)
    runs[0].extra["payments"] = len(share.payments)
    runs[1].extra["payments"] = len(engineer.payments)
    runs[2].extra["payments"] = n_pay
    print_table(
        "Transform (invoices/s counts the night's payments and fees too, as in the issue)",
        runs,
        baseline="iterrows reference",
    )
    print(f"\nidentical output: {compared:,} documents compared byte for byte with the per-row reference")
    reference_run, engineer_run, ours_run, floor_run = runs
    print_targets(
        [
            Target("transform invoices/s", ours_run.rate, ">=", 100_000),
            Target("transform × iterrows", ours_run.rate / reference_run.rate, ">=", 20, "{:.1f}"),
            Target("transform × data engineer", ours_run.rate / engineer_run.rate, ">=", 20, "{:.1f}"),
            Target(
                "transform time / serialisation floor",
                ours_run.seconds / floor_run.seconds,
                "<=",
                2,
                "{:.2f}",
            ),
        ]
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
