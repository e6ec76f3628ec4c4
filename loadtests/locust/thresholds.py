"""Pass/fail thresholds for a load run, checked over Locust's ``*_stats.csv`` (or its live stats).

Usage: ``python -m loadtests.locust.thresholds loadtests/reports/local_stats.csv --p95-ms 500``
``--max-failures 0`` exits 1 and prints each broken threshold.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AGGREGATED = "Aggregated"
AUTH = "AUTH"  # the request type the locustfile gives sign-ins and token renewals
# The first API call after a sign-in carries a token the API has not seen (no verification cache hit,
# maybe a JWKS fetch): it belongs to the sign-in path and is named with this suffix.
AFTER_SIGN_IN = "[after sign-in]"


@dataclass(frozen=True)
class EndpointStats:
    method: str
    name: str
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float

    @property
    def label(self) -> str:
        if self.name == AGGREGATED or self.name.startswith(f"{self.method} "):
            return self.name
        return f"{self.method} {self.name}".strip()


@dataclass(frozen=True)
class Thresholds:
    max_failures: int = 0
    p95_ms: float = 500.0
    min_requests: int = 1  # a run that sent nothing must not pass
    # Sign-ins happen once per simulated user, all at the start, and hash a password on purpose:
    # they get their own, looser limit so they neither hide nor fake an API regression.
    auth_p95_ms: float = 5000.0


def _float(value: str) -> float:
    return float(value) if value not in ("", "N/A") else 0.0


def read_stats_csv(path: Path) -> list[EndpointStats]:
    """Rows of Locust's ``<prefix>_stats.csv``, the ``Aggregated`` line included."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{path} has no rows: did Locust run?")
    return [
        EndpointStats(
            method=row.get("Type", ""),
            name=row["Name"],
            requests=int(row["Request Count"]),
            failures=int(row["Failure Count"]),
            p50_ms=_float(row["50%"]),
            p95_ms=_float(row["95%"]),
            p99_ms=_float(row["99%"]),
            rps=_float(row["Requests/s"]),
        )
        for row in rows
    ]


def stats_from_environment(stats: Any) -> list[EndpointStats]:
    """The same rows from a live ``locust.stats.RequestStats`` (used by the locustfile at quit time)."""
    entries = [*stats.entries.values(), stats.total]
    return [
        EndpointStats(
            method=e.method or "",
            name=e.name,
            requests=e.num_requests,
            failures=e.num_failures,
            p50_ms=float(e.get_response_time_percentile(0.50) or 0),
            p95_ms=float(e.get_response_time_percentile(0.95) or 0),
            p99_ms=float(e.get_response_time_percentile(0.99) or 0),
            rps=float(e.total_rps),
        )
        for e in entries
    ]


def violations(rows: Iterable[EndpointStats], limits: Thresholds) -> list[str]:
    """Every broken threshold, in words; an empty list means the run passed."""
    rows = list(rows)
    total = next((r for r in rows if r.name == AGGREGATED), None)
    if total is None:
        return ["no Aggregated row in the statistics"]
    broken: list[str] = []
    if total.requests < limits.min_requests:
        broken.append(f"only {total.requests} requests were sent (at least {limits.min_requests} needed)")
    if total.failures > limits.max_failures:
        broken.append(f"{total.failures} failed requests (at most {limits.max_failures} allowed)")
    for row in rows:
        if row.name == AGGREGATED:
            continue
        sign_in_path = row.method == AUTH or row.name.endswith(AFTER_SIGN_IN)
        limit = limits.auth_p95_ms if sign_in_path else limits.p95_ms
        if row.requests and row.p95_ms > limit:
            broken.append(f"p95 of {row.label} is {row.p95_ms:.0f} ms (limit {limit:.0f} ms)")
    return broken


def format_table(rows: Iterable[EndpointStats]) -> str:
    lines = [f"{'endpoint':<34} {'reqs':>7} {'fails':>6} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6}"]
    for r in rows:
        lines.append(
            f"{r.label:<34} {r.requests:>7} {r.failures:>6} {r.rps:>7.1f} "
            f"{r.p50_ms:>6.0f} {r.p95_ms:>6.0f} {r.p99_ms:>6.0f}"
        )
    return "\n".join(lines)


def format_markdown(rows: Iterable[EndpointStats]) -> str:
    """The figures as a Markdown table, as docs/performance.md shows them."""
    lines = [
        "| endpoint | requests | failures | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = [r.label, str(r.requests), str(r.failures), f"{r.rps:.1f}"]
        cells += [f"{v:.0f}" for v in (r.p50_ms, r.p95_ms, r.p99_ms)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a Locust run's statistics against thresholds.")
    parser.add_argument("stats_csv", type=Path, help="Locust's <prefix>_stats.csv")
    parser.add_argument("--p95-ms", type=float, default=Thresholds.p95_ms)
    parser.add_argument("--max-failures", type=int, default=Thresholds.max_failures)
    parser.add_argument("--min-requests", type=int, default=Thresholds.min_requests)
    parser.add_argument("--auth-p95-ms", type=float, default=Thresholds.auth_p95_ms)
    parser.add_argument("--markdown", action="store_true", help="print the figures as a Markdown table")
    args = parser.parse_args(argv)
    if not args.stats_csv.exists():
        print(f"{args.stats_csv} does not exist: run Locust with --csv first", file=sys.stderr)
        return 2
    rows = read_stats_csv(args.stats_csv)
    print(format_markdown(rows) if args.markdown else format_table(rows))
    broken = violations(rows, Thresholds(args.max_failures, args.p95_ms, args.min_requests, args.auth_p95_ms))
    for line in broken:
        print(f"THRESHOLD BROKEN: {line}", file=sys.stderr)
    if not broken:
        print(f"thresholds met: 0..{args.max_failures} failures, p95 <= {args.p95_ms:.0f} ms")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
