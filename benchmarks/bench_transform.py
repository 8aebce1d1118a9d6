"""Target 3 — transform: a night's invoices and payments → Codat payload bytes (with content hashes).

Variants on the same generated batch (10 companies, invoices of 5 lines, one payment per two invoices):

- ``iterrows reference`` (baseline): ``tests/receivables/reference_transform.py``, one document at a
  time with dicts and ``orjson.dumps`` — the plain reading of the rules. It is slow, so it runs on the
  first ``--reference-invoices`` invoices (and their payments) and its rate is compared with ours;
- ``transform`` (ours): ``invoices_to_payloads`` + ``payments_to_payloads``, column-wise.

Both must give byte-identical payloads on the reference's share of the batch; the script stops if not.

    python -m benchmarks.bench_transform --invoices 200000 --reference-invoices 20000
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from tests.receivables import reference_transform as reference

from benchmarks import data
from benchmarks.harness import Run, Target, header, measure, parser, print_table, print_targets
from receivables import extract, transform
from receivables.mappings import ISSUE_COLUMNS, resolve_mappings
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
        pays = self.payments[[k in pay_ids for k in zip(self.payments["company_id"], self.payments["payment_id"],
                                                        strict=True)]]
        customers = set(zip(inv["company_id"], inv["customer_id"], strict=True)) | set(
            zip(pays["company_id"], pays["customer_id"], strict=True))
        share_alloc = alloc[[k in pay_ids for k in zip(alloc["company_id"], alloc["payment_id"], strict=True)]]
        invoices = keys | set(zip(share_alloc["company_id"], share_alloc["target_id"], strict=True))
        ids = self.platform_ids
        wanted = [(kind == "invoice" and k in invoices) or (kind == "customer" and k in customers)
                  for kind, k in zip(ids["document_type"], zip(ids["company_id"], ids["source_id"], strict=True),
                                     strict=True)]
        part.platform_ids = ids[wanted].reset_index(drop=True)  # the share's own, as its batch would have
        part.batch = {
            **self.batch,
            "ar_invoices": inv,
            "ar_invoice_lines": lines[[k in keys for k in zip(lines["company_id"], lines["invoice_id"], strict=True)]],
            "ar_payments": pays,
            "ar_payment_allocations": share_alloc,
        }
        return part


def ours(night: Night) -> list[pd.DataFrame]:
    kw = {"companies": night.company_frame, "mappings": night.lookup, "platform_ids": night.platform_ids}
    return [
        transform.invoices_to_payloads(night.invoices, night.batch["ar_invoice_lines"], tax_rates=night.tax_rates,
                                       **kw),
        transform.payments_to_payloads(night.payments, night.batch["ar_payment_allocations"], **kw),
    ]


def per_row(night: Night) -> list[list[dict]]:
    return [
        reference.sales_documents("invoice", night.invoices, night.batch["ar_invoice_lines"], night.company_frame,
                                  night.lookup, night.tax_rates, night.platform_ids),
        reference.payments(night.payments, night.batch["ar_payment_allocations"], night.company_frame,
                           night.lookup, night.platform_ids),
    ]


def check_identical(got: list[pd.DataFrame], want: list[list[dict]]) -> int:
    """Compare every payload byte for byte; return how many documents were compared."""
    compared = 0
    for frame, rows in zip(got, want, strict=True):
        records = frame.to_dict("records")
        if len(records) != len(rows):
            raise SystemExit(f"transform gave {len(records)} documents, the reference {len(rows)}")
        for g, w in zip(records, rows, strict=True):
            if g != w:
                raise SystemExit(f"payload differs for {g['document_type']} {g['source_id']}:\n"
                                 f"  ours:      {g['payload'][:300]!r}\n  reference: {w['payload'][:300]!r}")
        compared += len(records)
    return compared


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--invoices", type=int, default=20_000, help="invoices in the night (default 20,000)")
    p.add_argument("--reference-invoices", type=int, default=2_000,
                   help="invoices given to the slow per-row reference (default 2,000)")
    p.add_argument("--repeat", type=int, default=2, help="runs of ours; the fastest counts (default 2)")
    args = p.parse_args(argv)
    header(f"Transform — {args.invoices:,} invoices × {LINES_PER_INVOICE} lines + payments → payload bytes", args)
    night = Night(args.invoices)
    share = night.share(min(args.reference_invoices, args.invoices))
    n_inv, n_pay = len(night.invoices), len(night.payments)
    reference_output: list = []
    runs: list[Run] = [
        measure("iterrows reference", lambda: reference_output.extend(per_row(share)), items=len(share.invoices),
                unit="invoices"),
        measure("transform", lambda: ours(night), items=n_inv, unit="invoices", repeat=args.repeat,
                extra=lambda out: {"documents": sum(len(f) for f in out),
                                   "payload MiB": round(sum(f["payload"].map(len).sum() for f in out) / 2**20, 1)}),
    ]
    compared = check_identical(ours(share), reference_output)
    runs[0].extra["payments"] = len(share.payments)
    runs[1].extra["payments"] = n_pay
    print_table("Transform (invoices/s counts the night's payments too, as in the issue)", runs,
                baseline="iterrows reference")
    print(f"\nidentical output: {compared:,} documents compared byte for byte with the per-row reference")
    print_targets([
        Target("transform invoices/s", runs[1].rate, ">=", 100_000),
        Target("transform × iterrows", runs[1].rate / runs[0].rate, ">=", 20, "{:.1f}"),
    ])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
