"""Reconnect-storm client: N SSE and N WebSocket clients all (re)connect within a second,
each resuming a few entries back, while votes are cast and the API is probed.

The situation after a deploy or a crash: every client of the instance comes back at once.
The clients start at ``T0 + spread * i / n`` (default spread 1 s), in ``--procs``
processes (the server competes with them for the machine's cores: a 2-core machine
measures both). Each Quorum client resumes from ``head - k`` (k random in 1..``--back``,
``head`` = the event's ``last_seq`` before the storm): SSE with ``Last-Event-ID``, the
WebSocket with ``?last_event_id=``; both with a member's bearer token (client i uses
token i mod ``--members``). It must then receive exactly the entries after its position:
the missed ones, then the ``--votes`` live votes cast during the storm.

A refused client (HTTP 503 ``streams_full`` or 429 with Retry-After; WebSocket close 1013
whose reason says ``retry after N s``) waits the Retry-After (which the server draws at
random: the jitter) and tries again from the last entry it received, up to ``--retries``
times, as docs/realtime.md tells clients to; every refusal is counted by its status. A
connection error, or a stream the server ends (counted as ``dropped``), is retried after
a random 1-3 s, doubling on each failure.

Per transport it reports: clients, connected, refusals by status, connection errors,
time from T0 until each client is caught up (has received the storm's head entry; for a
peer without resume: until it is connected) p50/p99/max, clients never caught up, and
lost and doubled entries: for Quorum every seq in (position, final last_seq] must arrive
exactly once; a ``snapshot`` instead of the replay is counted (resume not honoured).

Peers (``--kind seeds``: ../shared/bench/peer_seed002.py, SSE; ``--kind socketio``:
peer_socketio.py, Socket.IO over WebSocket) have no resume: their clients connect
without a position and the live entries are ``POST /publish/{n}``; a client must receive
every entry published (server time ``t``) after it was connected, exactly once.

A probe process sends ``GET --probe`` (Quorum: the event, with a member's token) at
``--probe-rate`` per second from ``--probe-before`` seconds before T0 until the end, so
the API's latency before the storm and during it (T0 until the last client is caught up
or the votes end, whichever is later) can be compared.

    uv run --group bench python bench/storm/client.py --kind quorum \\
        --base http://127.0.0.1:18050 --sse 5000 --ws 5000 --event EVENT \\
        --tokens data/tokens.txt --proposals data/proposals.txt --pg-db quorum_storm

Prints one JSON object per transport (appended to ``--out`` if given).
"""

import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import random
import re
import resource
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

RETRY_REASON = re.compile(r"retry after (\d+(?:\.\d+)?)")


@dataclass
class Client:
    """One client's record, sent back to the orchestrator."""

    transport: str
    position: int | None  # resume position (Quorum); None: no resume (peers)
    ready_t: float | None = None  # first successful open (epoch seconds)
    caught_t: float | None = None  # received the storm's head entry (or ready, for peers)
    seqs: list[int] = field(default_factory=list)  # seq (Quorum) or n (peers) received
    refusals: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    snapshots: int = 0
    dropped: int = 0
    open_at_end: bool = False


def raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def lines(path: str) -> list[str]:
    return [x.strip() for x in Path(path).read_text().splitlines() if x.strip()]


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


# -- one process's clients ---------------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: str, retry_after: float | None) -> None:
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


class Runner:
    def __init__(self, args: argparse.Namespace, head: int, stop: asyncio.Event) -> None:
        self.args = args
        self.head = head
        self.stop = stop
        self.tokens: list[str] = lines(args.tokens) if args.tokens else []
        u = urllib.parse.urlsplit(args.base)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.ws_base = "ws" + args.base[4:]

    def token(self, i: int) -> str:
        return self.tokens[i % min(len(self.tokens), int(self.args.members))]

    def on_message(self, c: Client, seq: int | None, type_: str) -> None:
        if type_ == "snapshot":
            c.snapshots += 1
            return
        if seq is None:
            return
        c.seqs.append(seq)
        if c.position is not None and c.caught_t is None and seq >= self.head:
            c.caught_t = time.time()

    def last(self, c: Client) -> int | None:
        if c.position is None:
            return None
        return max(c.seqs) if c.seqs else c.position

    async def run(self, c: Client, i: int, start: float) -> None:
        """Open, and reopen as docs/realtime.md tells clients to: after a refusal, exactly
        the Retry-After (the server draws it at random); after an error or a stream the
        server ended, a random 1-3 s, doubling on each failure up to a minute."""
        await asyncio.sleep(max(0.0, start - time.time()))
        attempts = failures = 0
        while not self.stop.is_set():
            delay: float | None = None
            try:
                await self.open_once(c, i)
                if self.stop.is_set():
                    return
                c.dropped += 1  # the server ended the stream: reopen, like EventSource
            except Refused as exc:
                c.refusals.append(exc.status)
                delay = exc.retry_after
            except Exception as exc:  # noqa: BLE001  any failure (a reset, a broken handshake:
                # websockets' InvalidMessage) is counted and retried, as a real client would
                c.errors.append(type(exc).__name__)
            attempts += 1
            if attempts > self.args.retries:
                return
            if delay is None:
                delay = min(60.0, random.uniform(1, 3) * 2**failures)
                failures += 1
            await asyncio.sleep(delay)

    async def open_once(self, c: Client, i: int) -> None:
        if c.transport == "sse":
            await self.sse(c, i)
        elif self.args.kind == "socketio":
            await self.socketio(c)
        else:
            await self.quorum_ws(c, i)

    async def sse(self, c: Client, i: int) -> None:
        if self.args.kind == "quorum":
            path = f"/api/v1/events/{self.args.event}/stream"
            extra = f"Authorization: Bearer {self.token(i)}\r\nLast-Event-ID: {self.last(c)}\r\n"
        else:
            path, extra = "/stream", ""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, limit=1 << 22), self.args.open_timeout
        )
        try:
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAccept: text/event-stream\r\n"
                f"{extra}\r\n".encode()
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.args.open_timeout)
            status = head[9:12].decode()
            if status != "200":
                found = re.search(rb"(?i)\r\nretry-after: *(\d+)", head)
                raise Refused(f"http {status}", float(found.group(1)) if found else None)
            if c.ready_t is None:
                c.ready_t = time.time()
                if c.position is None:
                    c.caught_t = c.ready_t
            c.open_at_end = True
            event = ""
            while not self.stop.is_set():
                line = await reader.readline()
                if not line:
                    break
                if line.startswith(b"data:"):
                    try:
                        d = orjson.loads(line[5:])
                    except orjson.JSONDecodeError:
                        continue
                    if type(d) is dict:
                        seq = d.get("seq", d.get("n"))
                        self.on_message(c, seq if type(seq) is int else None, event)
                elif line.startswith(b"event:"):
                    event = line[6:].strip().decode()
                elif line in (b"\n", b"\r\n"):
                    event = ""
        finally:
            if not self.stop.is_set():
                c.open_at_end = False
            writer.close()

    async def quorum_ws(self, c: Client, i: int) -> None:
        url = f"{self.ws_base}/api/v1/events/{self.args.event}/ws?last_event_id={self.last(c)}"
        try:
            ws = await websockets.connect(
                url,
                additional_headers={"Authorization": f"Bearer {self.token(i)}"},
                open_timeout=self.args.open_timeout,
                ping_interval=None,
                compression=None,
                max_size=None,
            )
        except InvalidStatus as exc:
            retry = exc.response.headers.get("Retry-After")
            status = f"http {exc.response.status_code}"
            raise Refused(status, float(retry) if retry else None) from None
        async with ws:
            first = True
            try:
                async for frame in ws:
                    if first:
                        first = False
                        if c.ready_t is None:
                            c.ready_t = time.time()
                        c.open_at_end = True
                    d = orjson.loads(frame)
                    seq = d.get("seq")
                    self.on_message(c, seq if type(seq) is int else None, d.get("type", ""))
            except ConnectionClosed:
                pass
            finally:
                if not self.stop.is_set():
                    c.open_at_end = False
            close = ws.close_code
            if close == 1013 and not self.stop.is_set():
                found = RETRY_REASON.search(ws.close_reason or "")
                raise Refused("close 1013", float(found.group(1)) if found else None)

    async def socketio(self, c: Client) -> None:
        url = f"{self.ws_base}/socket.io/?EIO=4&transport=websocket"
        ws = await websockets.connect(
            url, open_timeout=self.args.open_timeout, ping_interval=None, max_size=None
        )
        async with ws:
            await ws.recv()  # 0{"sid": ...}: Engine.IO open
            await ws.send("40")  # connect to the namespace /
            try:
                async for frame in ws:
                    if not isinstance(frame, str):
                        continue
                    if frame.startswith("40"):  # connected: the client is in the room
                        if c.ready_t is None:
                            c.ready_t = c.caught_t = time.time()
                        c.open_at_end = True
                    elif frame == "2":
                        await ws.send("3")  # Engine.IO ping / pong
                    elif frame.startswith("42"):
                        self.on_message(c, json.loads(frame[2:])[1]["n"], "")
            except ConnectionClosed:
                pass
            finally:
                if not self.stop.is_set():
                    c.open_at_end = False


def worker(args: argparse.Namespace, jobs: list[tuple[int, str, int | None]], q: Any, go: Any,
           stop_ev: Any, progress: Any) -> None:  # fmt: skip
    raise_nofile()

    async def main() -> None:
        q.put(("loaded", None))
        head, t0 = go.get()
        stop = asyncio.Event()
        runner = Runner(args, head, stop)
        clients = [Client(transport, position) for _i, transport, position in jobs]
        tasks = [
            asyncio.create_task(runner.run(c, i, t0 + args.spread * i / args.total))
            for c, (i, _t, _p) in zip(clients, jobs, strict=True)
        ]
        while not stop_ev.is_set():
            # caught up, or given up (out of retries): either way nothing more to wait for
            progress.value = sum(
                1 for c, t in zip(clients, tasks, strict=True) if c.caught_t or t.done()
            )
            await asyncio.sleep(0.1)
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        q.put(("done", clients))

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())


# -- the probe and the live entries --------------------------------------------------------


def probe(url: str, token: str | None, rate: float, q: Any, stop: Any) -> None:
    """GET url at ``rate`` per second on one keep-alive connection: (start, seconds, status)."""
    u = urllib.parse.urlsplit(url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    samples: list[tuple[float, float, int]] = []
    conn: http.client.HTTPConnection | None = None
    next_at = time.time()
    while not stop.is_set():
        next_at += 1 / rate
        started = time.time()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname or "", u.port or 80, timeout=30)
            conn.request("GET", u.path, headers=headers)
            response = conn.getresponse()
            response.read()
            samples.append((started, time.time() - started, response.status))
        except (OSError, http.client.HTTPException):
            samples.append((started, time.time() - started, 0))
            conn = None
        time.sleep(max(0.0, next_at - time.time()))
    q.put(samples)


def post(base: str, path: str, token: str | None = None) -> int:
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname or "", u.port or 80, timeout=60)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("POST", path, b"", headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def live_entry(args: argparse.Namespace, k: int, tokens: list[str], proposals: list[str]) -> int:
    """Cast vote k (Quorum) or publish entry k (peers); returns the HTTP status."""
    if args.kind != "quorum":
        return post(args.base, f"/publish/{k}")
    status = 0
    for _ in range(50):  # 409: this member already voted for it, try another pair
        path = f"/api/v1/events/{args.event}/proposals/{random.choice(proposals)}/votes"
        status = post(args.base, path, random.choice(tokens))
        if status != 409:
            break
    return status


def last_seq(db: str, event: str) -> int:
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-At", "-v", f"e={event}"],
        input="SELECT last_seq FROM events WHERE id = :'e';",
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip())


# -- the report -------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    transport: str,
    clients: list[Client],
    t0: float,
    final: int,
    published: dict[int, float],
) -> dict[str, Any]:
    caught = [c.caught_t - t0 for c in clients if c.caught_t is not None]
    lost = doubled = disordered = 0
    for c in clients:
        got = Counter(c.seqs)
        doubled += sum(n - 1 for n in got.values() if n > 1)
        if c.ready_t is None:  # never connected: counted as such, not as losses
            expected = set()
        elif c.position is not None:
            expected = set(range(c.position + 1, final + 1))
            disordered += sum(1 for a, b in zip(c.seqs, c.seqs[1:], strict=False) if b <= a)
        else:
            expected = {n for n, t in published.items() if t > c.ready_t}  # sent after
        lost += len(expected - set(got))
    marks = {"p50": pct(caught, 0.5), "p99": pct(caught, 0.99), "max": max(caught, default=None)}
    ms = {k: None if v is None else round(v * 1000) for k, v in marks.items()}
    ready = [c.ready_t - t0 for c in clients if c.ready_t is not None]
    opened = {"p50": pct(ready, 0.5), "p99": pct(ready, 0.99), "max": max(ready, default=None)}
    return {
        "label": args.label or args.kind,
        "kind": args.kind,
        "transport": transport,
        "resume": args.kind == "quorum",
        "clients": len(clients),
        "connected": sum(1 for c in clients if c.ready_t is not None),
        "open_at_end": sum(1 for c in clients if c.open_at_end),
        "refused": dict(Counter(r for c in clients for r in c.refusals)),
        "refused_clients": sum(1 for c in clients if c.refusals),
        "errors": dict(Counter(e for c in clients for e in c.errors)),
        "dropped": sum(c.dropped for c in clients),
        "snapshots": sum(c.snapshots for c in clients),
        "caught_up": len(caught),
        "caught_up_ms": ms,
        "connected_ms": {k: None if v is None else round(v * 1000) for k, v in opened.items()},
        "lost": lost,
        "doubled": doubled,
        "out_of_order": disordered,
    }


def probe_report(samples: list[tuple[float, float, int]], t0: float, end: float) -> dict[str, Any]:
    def stats(window: list[tuple[float, float, int]]) -> dict[str, Any]:
        ok = [s for _t, s, status in window if status == 200]
        return {
            "n": len(window),
            "non_200": len(window) - len(ok),
            "p50_ms": None if not ok else round(1000 * (pct(ok, 0.5) or 0), 1),
            "p99_ms": None if not ok else round(1000 * (pct(ok, 0.99) or 0), 1),
            "max_ms": None if not ok else round(1000 * max(ok), 1),
        }

    return {
        "before": stats([x for x in samples if x[0] < t0]),
        "during": stats([x for x in samples if t0 <= x[0] <= end]),
    }


def storm(
    args: argparse.Namespace,
    head: int,
    t0: float,
    tokens: list[str],
    proposals: list[str],
    progress: list[Any],
) -> tuple[int, float, float, Counter[int], dict[int, float]]:
    """Cast the live entries, then wait until every client is caught up (or given up)
    and the last entry has had time to arrive, or the deadline."""
    statuses: Counter[int] = Counter()
    # When each live entry's request started: a peer's client connected before that
    # must receive the entry (one that connected while it was in flight may or may not).
    published: dict[int, float] = {}
    for k in range(args.votes):  # live entries, spread over the storm
        time.sleep(max(0.0, t0 + 0.2 + k * args.vote_gap - time.time()))
        published[k] = time.time()
        try:
            statuses[live_entry(args, k, tokens, proposals)] += 1
        except OSError as exc:
            statuses[0] += 1
            print(f"live entry {k}: {exc}", file=sys.stderr)
    last_entry = time.time()
    while time.time() < t0 + args.deadline:
        if sum(v.value for v in progress) >= args.total and time.time() > last_entry + args.drain:
            break
        time.sleep(0.1)
    all_caught = time.time()
    final = last_seq(args.pg_db, args.event) if args.kind == "quorum" else 0
    return final, last_entry, all_caught, statuses, published


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=["quorum", "seeds", "socketio"], required=True)
    ap.add_argument("--base", required=True, help="http://host:port of the server")
    ap.add_argument("--sse", type=int, default=0, help="SSE clients")
    ap.add_argument("--ws", type=int, default=0, help="WebSocket clients")
    ap.add_argument("--event", help="Quorum: the event's id")
    ap.add_argument("--tokens", help="Quorum: bearer tokens, one a line")
    ap.add_argument("--members", type=int, default=1000, help="client i uses token i mod M")
    ap.add_argument("--proposals", help="Quorum: the event's proposal ids, one a line")
    ap.add_argument("--pg-db", help="Quorum: the database (for last_seq)")
    ap.add_argument("--back", type=int, default=5, help="resume 1..BACK entries behind")
    ap.add_argument("--spread", type=float, default=1.0, help="seconds over which all connect")
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--votes", type=int, default=5, help="live entries during the storm")
    ap.add_argument("--vote-gap", type=float, default=0.5)
    ap.add_argument("--probe", help="path GET by the probe (Quorum: the event)")
    ap.add_argument("--probe-rate", type=float, default=10.0)
    ap.add_argument("--probe-before", type=float, default=5.0)
    ap.add_argument("--deadline", type=float, default=120.0, help="seconds after T0 at most")
    ap.add_argument("--drain", type=float, default=3.0, help="seconds after the last entry")
    ap.add_argument("--retries", type=int, default=10)
    ap.add_argument("--open-timeout", type=float, default=60.0)
    ap.add_argument("--label")
    ap.add_argument("--out")
    args = ap.parse_args()
    args.total = args.sse + args.ws
    raise_nofile()
    quorum = args.kind == "quorum"
    tokens = lines(args.tokens) if quorum else []
    proposals = lines(args.proposals) if quorum else []
    head = last_seq(args.pg_db, args.event) if quorum else 0

    # Interleave the transports over the connect window; client i starts at i / total.
    order = ["sse"] * args.sse + ["ws"] * args.ws
    random.shuffle(order)
    jobs = [
        (i, t, max(0, head - random.randint(1, args.back)) if quorum else None)
        for i, t in enumerate(order)
    ]
    q: Any = mp.Queue()
    stop = mp.Event()
    gos: list[Any] = [mp.Queue() for _ in range(args.procs)]
    progress = [mp.Value("i", 0) for _ in range(args.procs)]
    procs = [
        mp.Process(
            target=worker,
            args=(args, jobs[k :: args.procs], q, gos[k], stop, progress[k]),
            daemon=True,  # ends with this process, whatever happens to it
        )
        for k in range(args.procs)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        q.get()  # loaded
    probe_q: Any = mp.Queue()
    probe_stop = mp.Event()
    prober = None
    if args.probe:
        prober = mp.Process(
            target=probe,
            args=(args.base + args.probe, tokens[0] if tokens else None, args.probe_rate,
                  probe_q, probe_stop),
            daemon=True,
        )  # fmt: skip
        prober.start()
        time.sleep(args.probe_before)
    t0 = time.time() + 0.5
    for g in gos:
        g.put((head, t0))

    try:
        final, last_entry, all_caught, statuses, published = storm(
            args, head, t0, tokens, proposals, progress
        )
    finally:  # whatever happened, the workers and the probe end and report
        stop.set()
        probe_stop.set()
    clients: list[Client] = []
    for _ in procs:
        clients += q.get()[1]
    for p in procs:
        p.join()
    samples = probe_q.get() if prober else []
    if prober:
        prober.join()
    rows = []
    for transport in ("sse", "ws"):
        mine = [c for c in clients if c.transport == transport]
        if not mine:
            continue
        row = report(args, transport, mine, t0, final, published)
        row.update(
            head=head,
            final_seq=final,
            back=args.back,
            spread_s=args.spread,
            procs=args.procs,
            live_entries=dict(statuses),
            storm_s=round(all_caught - t0, 2),
            api=probe_report(samples, t0, max(all_caught, last_entry)),
        )
        rows.append(row)
    text = "\n".join(json.dumps(r) for r in rows)
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
