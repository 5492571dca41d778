"""A loopback stand-in for one http check that counts probes per deployment (`/healthz?d=<deployment id>`).

Run by the daemon benches as a process of its own: `python bench/probe_counter.py --port P`; GET /counts
answers {deployment id: [epoch seconds of each probe]}. A bare asyncio server, so counting costs the
machine next to nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

OK = b'{"status":"ok"}'


def answer(status: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def serve(port: int) -> None:
    times: dict[str, list[float]] = {}

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: one request after another on the same connection
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1] if " " in lines[0] else "/"
                length = next(
                    (int(x.split(":", 1)[1]) for x in lines if x.lower().startswith("content-length:")), 0
                )
                if length:
                    await reader.readexactly(length)
                if target.startswith("/counts"):
                    writer.write(answer("200 OK", json.dumps(times).encode()))
                else:
                    key = target.split("d=", 1)[1] if "d=" in target else ""
                    times.setdefault(key, []).append(time.time())
                    writer.write(answer("200 OK", OK))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    # A deep backlog: this stand-in must never be the reason a probe fails.
    server = await asyncio.start_server(client, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))
