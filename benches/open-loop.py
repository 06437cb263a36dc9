#!/usr/bin/env python3
"""Open-loop load, as Okta sends it: calls at a fixed rate whatever the answers' latency.

wrk keeps a fixed number of connections busy (closed loop): a slow server is then called less,
which hides what a tenant calling at a steady rate does to its neighbours. This sends `rate`
calls a second, each on its own connection, for `seconds`, and prints one line:
`RESULT sent=… answered=… statuses=200:…,204:… p50=…ms p99=…ms`.

    benches/open-loop.py URL PAYLOAD.json RATE SECONDS
"""
import asyncio
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

AUTH = "Basic YWRtaW46c3VwZXJzZWNyZXQ="


async def call(host, port, path, body, latencies, statuses):
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(host, port)
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: {AUTH}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()
        writer.close()
        statuses[status_line.split(b" ")[1].decode()] += 1
        latencies.append(time.perf_counter() - started)
    except (OSError, IndexError):
        statuses["error"] += 1


async def main(url, payload, rate, seconds):
    parts = urlsplit(url)
    body = open(payload, "rb").read()
    latencies, statuses, tasks = [], Counter(), []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        # Fixed schedule: the i-th call leaves at start + i / rate, however late others are.
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(call(parts.hostname, parts.port, parts.path, body, latencies, statuses)))
    await asyncio.gather(*tasks)
    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1e3 if latencies else 0
    codes = ",".join(f"{code}:{count}" for code, count in sorted(statuses.items()))
    print(f"RESULT sent={len(tasks)} answered={len(latencies)} statuses={codes} p50={pct(0.5):.2f}ms p99={pct(0.99):.2f}ms")


if __name__ == "__main__":
    url, payload, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    asyncio.run(main(url, payload, rate, seconds))
