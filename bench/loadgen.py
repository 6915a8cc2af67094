"""The HTTP load generator, run as its own process: `clients` threads, each with its own keep-alive-capable
connection, send one kind of request back to back for `seconds`, then the latencies are summarised. It prints
one JSON object.

    python -m bench.loadgen --port 8000 --key vk_… --kind purchase --clients 8 --seconds 20 --members 1,2,3
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import threading
import time


def percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def request_for(kind: str, rng: random.Random, members: list[int], amounts: list[int], tag: str, n: int):
    member = rng.choice(members)
    if kind == "balance":
        return "GET", f"/api/v1/members/{member}/balance", None
    if kind == "validate":
        body = {"code": "BENCH10", "member_id": member, "branch": "main",
                "items": [{"sku": "CD", "category": "pop", "quantity": 1, "unit_price": rng.choice(amounts) or 100}]}
        return "POST", "/api/v1/vouchers/validate", body
    cents = rng.choice(amounts)
    body = {"member": {"member_id": member}, "branch": "main", "receipt": f"{tag}-{n}", "total": cents,
            "items": [{"sku": "CD", "category": "classical" if n % 5 == 0 else "pop", "quantity": 1,
                       "unit_price": cents}]}
    return "POST", "/api/v1/purchases", body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--kind", choices=["purchase", "balance", "validate"], required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--members", required=True, help="comma-separated member ids")
    parser.add_argument("--amounts", default="1177,1200,2500,4999", help="comma-separated totals (cents)")
    parser.add_argument("--tag", default="L")
    args = parser.parse_args()
    members = [int(x) for x in args.members.split(",")]
    amounts = [int(x) for x in args.amounts.split(",")]
    headers = {"Authorization": f"Bearer {args.key}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + args.seconds

    def client(index: int) -> None:
        rng = random.Random(index)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        mine, n = [], 0
        while time.perf_counter() < deadline:
            n += 1
            method, path, body = request_for(args.kind, rng, members, amounts, f"{args.tag}{index}", n)
            started = time.perf_counter()
            try:
                conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
            elapsed = time.perf_counter() - started
            if status in (200, 201):
                mine.append(elapsed)
            else:
                with lock:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    print(json.dumps({"kind": args.kind, "clients": args.clients, "seconds": round(wall, 2), "ok": len(ordered),
                      "errors": errors, "per_second": round(len(ordered) / wall, 1),
                      "p50_ms": round(percentile(ordered, 0.50) * 1000, 2),
                      "p95_ms": round(percentile(ordered, 0.95) * 1000, 2),
                      "p99_ms": round(percentile(ordered, 0.99) * 1000, 2)}))


if __name__ == "__main__":
    main()
