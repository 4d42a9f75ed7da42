"""Fan-out benchmark client: N raw SSE connections (or Quorum WebSocket ones, ``--ws``)
in P processes, K events, and the commit-to-receive latency of every message delivered.

Built like ../shared/bench/fanout.py (raw asyncio, uvloop, several processes), with what
Quorum needs on top:

* ``Authorization: Bearer`` per connection: subscriber i uses the i-th token of
  ``--tokens`` (modulo ``--members``), so the stream's membership check is real;
* a connection counts as ready once its first SSE message (Quorum's ``snapshot``) has
  arrived in full, and no more than ``--connect-concurrency`` connections per process
  are opening at once, so the server is never asked for 10,000 snapshots in one burst;
* events are triggered by votes (``--vote``: POST .../proposals/{p}/votes by a random
  member on a random proposal, another pair on 409 already_voted), or by a bare POST
  to ``--publish`` like the shared client;
* the latency of message m is ``receive time - m.t`` (``t``: the commit time the server
  put in the JSON envelope); snapshots are not counted. Lost = subscribers x events -
  distinct messages received, per connection, so a duplicate cannot hide a loss;
* ``--server-pid``: VmRSS of the server before the subscribers and once they are all
  connected and the server is idle, divided by N; ``--pg-db``: the database's
  transactions per second (pg_stat_database) over the measured window; ``--queries-url``:
  a JSON counter ``{"queries": n}`` read before and after the window (the polling peer).

Protocol-based connections (no StreamReader per connection): each read is stamped once
and split into lines; only ``event:``, ``id:`` and ``data:`` lines are looked at, so the
chunked transfer framing (hex size lines) is skipped without being decoded.

    uv run --group bench python bench/fanout/client.py \\
        --stream 'http://127.0.0.1:18030/api/v1/events/EVENT/stream' \\
        --tokens data/tokens.txt --members 100 --vote http://127.0.0.1:18030 \\
        --event EVENT --proposals data/proposals.txt --subs 1000 --events 5 --gap 2.5 \\
        --procs 2 --server-pid PID --pg-db quorum_fanout

Prints one JSON object (and appends it to ``--out`` if given).
"""

import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import random
import resource
import statistics
import subprocess
import sys
import time
import urllib.parse
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import procstat  # noqa: E402


def raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- one process's connections ----------------------------------------------------------


class Conn(asyncio.Protocol):
    __slots__ = (
        "w", "request", "transport", "buf", "head", "event", "id", "ready", "seqs", "outcome",
    )  # fmt: skip

    def __init__(self, w: "Worker", request: bytes) -> None:
        self.w = w
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.head = False
        self.event = b""
        self.id = b""
        self.ready = False
        self.seqs: list[int] = []
        self.outcome: asyncio.Future[bool] | None = w.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def _settle(self, ok: bool, reason: str = "") -> None:
        if self.outcome is None:
            return
        if not self.outcome.done():
            self.outcome.set_result(ok)
        self.outcome = None
        if ok:
            self.ready = True
        elif reason:
            self.w.errors[reason] += 1

    def _unread(self, data: bytes, status: bytes) -> bytes | None:
        """What is still to parse, once the response head (``status`` expected) is read;
        None while it is incomplete (kept in ``buf``) or once it refused the stream."""
        if self.buf:
            data = self.buf + data
            self.buf = b""
        if self.head:
            return data
        end = data.find(b"\r\n\r\n")
        if end < 0:
            self.buf = data
            return None
        if data[9:12] != status:
            self._settle(False, f"http {data[9:12].decode(errors='replace')}")
            self.transport.close()  # type: ignore[union-attr]
            return None
        self.head = True
        if self.w.ready_on_headers:
            self._settle(True)
        return data[end + 4 :]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        unread = self._unread(data, b"200")
        if unread is None:
            return
        data = unread
        last = data.rfind(b"\n")
        if last < 0:
            self.buf = data
            return
        if last + 1 < len(data):
            self.buf = data[last + 1 :]
        w = self.w
        for line in data[:last].split(b"\n"):
            if line.startswith(b"data:"):
                if self.event == b"snapshot":
                    if not self.ready:
                        self._settle(True)
                    continue
                try:
                    d = orjson.loads(line[5:])
                except orjson.JSONDecodeError:
                    continue
                if not self.ready:
                    self._settle(True)
                if type(d) is dict and "t" in d:
                    seq = d.get("seq", d.get("n"))
                    w.lat.append(now - d["t"])
                    w.lat_seq.append(seq if type(seq) is int else -1)
                    self.seqs.append(seq if type(seq) is int else -1)
            elif line.startswith(b"event:"):
                self.event = line[6:].strip()
            elif line.startswith(b"id:"):
                self.id = line[3:].strip()
            elif line == b"" or line == b"\r":
                self.event = b""

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready:
            self._settle(False, "closed before ready" if exc is None else type(exc).__name__)
        elif not self.w.stopping:
            self.w.closed_early += 1


class WsConn(Conn):
    """The same subscriber over Quorum's WebSocket (``--ws``), just as raw: the upgrade
    request, then the server's unmasked frames parsed in place. The benchmark compares
    the server's two transports with clients of the same weight: the shared client
    (websockets, per connection) costs more CPU on the cores the server shares, which
    counts in its latency."""

    __slots__ = ()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        unread = self._unread(data, b"101")
        if unread is None:
            return
        data = unread
        i, n = 0, len(data)
        while n - i >= 2:
            length, start = data[i + 1] & 0x7F, i + 2
            if length >= 126:  # a 2- or 8-byte length follows, maybe not all read yet
                start += 2 if length == 126 else 8
                if n < start:
                    break
                length = int.from_bytes(data[i + 2 : start])
            if n < start + length:
                break
            opcode, payload, i = data[i] & 0x0F, data[start : start + length], start + length
            if opcode == 1:
                self._message(payload, now)
            elif opcode == 9:  # uvicorn's keepalive ping: unanswered, it closes the socket
                # A pong, masked as a client's frames must be (a zero key: the same bytes).
                pong = bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload
                self.transport.write(pong)  # type: ignore[union-attr]
            elif opcode == 8:  # the server closed the stream
                self.transport.close()  # type: ignore[union-attr]
                return
        self.buf = data[i:]

    def _message(self, payload: bytes, now: float) -> None:
        d = orjson.loads(payload)
        if d.get("type") == "heartbeat":
            return
        if not self.ready:
            self._settle(True)
        if "seq" in d and d.get("type") != "snapshot":
            self.w.lat.append(now - d["t"])
            self.w.lat_seq.append(d["seq"])
            self.seqs.append(d["seq"])


class Worker:
    def __init__(self, args: argparse.Namespace, first: int, n: int) -> None:
        self.args = args
        self.first = first
        self.n = n
        self.loop = asyncio.get_running_loop()
        self.ready_on_headers = args.ready == "headers"
        u = urllib.parse.urlsplit(args.stream)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.path = u.path + ("?" + u.query if u.query else "")
        self.tokens = _lines(args.tokens)[: args.members] if args.tokens else []
        self.lat = array("d")
        self.lat_seq = array("q")
        self.conns: list[Conn] = []
        self.errors: Counter[str] = Counter()
        self.failed = 0
        self.retried = 0
        self.closed_early = 0
        self.stopping = False

    def request(self, i: int) -> bytes:
        head = [f"GET {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if self.args.ws:
            head += [
                "Upgrade: websocket",
                "Connection: Upgrade",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",  # RFC 6455's sample nonce
                "Sec-WebSocket-Version: 13",
            ]
        else:
            head.append("Accept: text/event-stream")
        if self.tokens:
            head.append(f"Authorization: Bearer {self.tokens[i % len(self.tokens)]}")
        head += self.args.header
        return ("\r\n".join(head) + "\r\n\r\n").encode()

    async def open_one(self, i: int, slots: asyncio.Semaphore) -> None:
        try:
            for attempt in range(self.args.retries + 1):
                if attempt:
                    self.retried += 1
                    await asyncio.sleep(0.5)
                conn = (WsConn if self.args.ws else Conn)(self, self.request(i))
                try:
                    await self.loop.create_connection(lambda c=conn: c, self.host, self.port)  # type: ignore[misc]
                except OSError as exc:
                    conn._settle(False, type(exc).__name__)
                    continue
                outcome = conn.outcome
                if outcome is None or await outcome:
                    if conn.ready:
                        self.conns.append(conn)
                        return
            self.failed += 1
        finally:
            slots.release()

    async def open_all(self) -> float:
        started = time.monotonic()
        slots = asyncio.Semaphore(self.args.connect_concurrency)
        tasks = []
        for k in range(self.n):
            await slots.acquire()
            tasks.append(asyncio.create_task(self.open_one(self.first + k, slots)))
        await asyncio.wait_for(asyncio.gather(*tasks), self.args.connect_timeout)
        return time.monotonic() - started

    def results(self) -> dict[str, Any]:
        k = self.args.events
        delivered = unique = lost = extra = disorder = 0
        for c in self.conns:
            got = len(c.seqs)
            distinct = len(set(c.seqs))
            delivered += got
            unique += distinct
            lost += max(0, k - distinct)
            extra += max(0, distinct - k)
            if any(b <= a for a, b in zip(c.seqs, c.seqs[1:], strict=False)):
                disorder += 1
        return {
            "ready": len(self.conns),
            "failed": self.failed,
            "retried": self.retried,
            "errors": dict(self.errors),
            "closed_early": self.closed_early,
            "delivered": delivered,
            "unique": unique,
            "lost": lost,
            "extra": extra,
            "out_of_order_conns": disorder,
            "lat": self.lat.tobytes(),
            "lat_seq": self.lat_seq.tobytes(),
        }


def worker(args: argparse.Namespace, first: int, n: int, q: Any, stop: Any) -> None:
    raise_nofile()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        w = Worker(args, first, n)
        try:
            seconds = await w.open_all()
        except TimeoutError:
            seconds = float("nan")
        q.put(("ready", len(w.conns), w.failed, round(seconds, 2)))
        await asyncio.to_thread(stop.wait)
        w.stopping = True
        for c in w.conns:
            if c.transport is not None:
                c.transport.close()
        await asyncio.sleep(0.1)
        q.put(("done", w.results()))

    asyncio.run(main())


# -- the driver ---------------------------------------------------------------------------


def _lines(path: str) -> list[str]:
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]


class Trigger:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rnd = random.Random()
        if args.vote:
            self.voters = _lines(args.tokens)
            self.proposals = _lines(args.proposals)

    def fire(self, k: int) -> float:
        """Cause event k; returns how long the request took (seconds)."""
        started = time.monotonic()
        if not self.args.vote:
            status, body = post(self.args.publish.format(n=k))
            if status >= 300:
                raise RuntimeError(f"publish: HTTP {status} {body[:200]!r}")
            return time.monotonic() - started
        for _ in range(50):
            voter = self.rnd.choice(self.voters)
            proposal = self.rnd.choice(self.proposals)
            url = f"{self.args.vote}/api/v1/events/{self.args.event}/proposals/{proposal}/votes"
            status, body = post(url, {"Authorization": f"Bearer {voter}"})
            if status < 300:
                return time.monotonic() - started
            if status != 409:  # 409: this member already voted for it, try another pair
                raise RuntimeError(f"vote: HTTP {status} {body[:200]!r}")
        raise RuntimeError("no (member, proposal) pair left to vote with")


def request(method: str, url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=60)
    try:
        conn.request(method, u.path + ("?" + u.query if u.query else ""), b"", headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def post(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    return request("POST", url, headers)


def pg_transactions(db: str) -> int:
    """Transactions (committed + rolled back) of database ``db`` so far."""
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-At", "-v", f"db={db}"],
        input="SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :'db';",
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip())


def counter(url: str) -> int:
    status, body = request("GET", url)
    if status != 200:
        raise RuntimeError(f"{url}: HTTP {status}")
    return int(json.loads(body)["queries"])


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p * len(sorted_values)))]


def drive(
    args: argparse.Namespace, pid: int | None, trigger: Trigger, q: Any, procs: list[Any]
) -> tuple[Any, float, int, int, float, list[float], dict[str, Any]]:
    """Wait for the subscribers, take the idle figures, fire the events, take the rest."""
    opened = time.monotonic()
    ready = failed = 0
    for _ in procs:
        _, r, f, _s = q.get()
        ready, failed = ready + r, failed + f
    connect_wall = time.monotonic() - opened
    extra: dict[str, Any] = {}
    if pid:
        extra["idle"] = procstat.wait_idle(pid, 0, timeout=60)
        rss_idle = procstat.rss_kb(pid)
        extra |= {"rss_before_kb": args.rss_before, "rss_idle_kb": rss_idle}
        extra["kb_per_conn"] = round((rss_idle - args.rss_before) / max(ready, 1), 2)
    else:
        time.sleep(2.0)
    if args.pg_db:
        time.sleep(args.db_settle)  # an idle backend reports its counts up to 10 s late
    hook = subprocess.Popen(args.on_ready, shell=True) if args.on_ready else None  # noqa: S602
    tx0 = pg_transactions(args.pg_db) if args.pg_db else None
    q0 = counter(args.queries_url) if args.queries_url else None
    t0 = time.monotonic()
    trigger_s = []
    for k in range(args.events):
        fired = time.monotonic()
        trigger_s.append(trigger.fire(k))
        time.sleep(max(0.0, args.gap - (time.monotonic() - fired)))
    time.sleep(args.drain)
    window = time.monotonic() - t0
    if tx0 is not None:
        tx = pg_transactions(args.pg_db) - tx0
        extra |= {"db_tx": tx, "db_tx_per_s": round(tx / window, 1)}
    if q0 is not None:
        queries = counter(args.queries_url) - q0
        extra |= {"queries": queries, "queries_per_s": round(queries / window, 1)}
    if pid:
        extra["rss_after_events_kb"] = procstat.rss_kb(pid)
        extra["rss_hwm_kb"] = procstat.status_kb(pid, "VmHWM")
    return hook, connect_wall, ready, failed, window, trigger_s, extra


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stream", required=True, help="the SSE URL every subscriber opens")
    ap.add_argument(
        "--ws", action="store_true", help="--stream is Quorum's WebSocket route (http://...)"
    )
    ap.add_argument("--tokens", help="bearer tokens, one a line (subscribers and voters)")
    ap.add_argument("--members", type=int, default=100, help="subscriber i uses token i %% M")
    ap.add_argument("--vote", help="trigger by votes on this Quorum base URL")
    ap.add_argument("--event", help="the event voted in (with --vote)")
    ap.add_argument("--proposals", help="proposal ids, one a line (with --vote)")
    ap.add_argument("--publish", help="or trigger by POST to this template with {n}")
    ap.add_argument("--header", action="append", default=[], help="extra 'Name: value'")
    ap.add_argument("--ready", choices=["event", "headers"], default="event")
    ap.add_argument("--subs", type=int, default=1000)
    ap.add_argument("--events", type=int, default=5)
    ap.add_argument("--gap", type=float, default=2.5, help="seconds between events")
    ap.add_argument("--drain", type=float, default=3.0, help="seconds after the last event")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--connect-concurrency", type=int, default=100, help="per process")
    ap.add_argument("--connect-timeout", type=float, default=600.0)
    ap.add_argument("--retries", type=int, default=3)
    ap.add_argument("--server-pid", type=int)
    ap.add_argument("--pg-db", help="report this database's transactions per second")
    ap.add_argument(
        "--db-settle",
        type=float,
        default=11.0,
        help="seconds to wait (with --pg-db) before the window: PostgreSQL flushes an idle "
        "backend's counters up to 10 s late, and the connection storm must not be counted",
    )
    ap.add_argument("--queries-url")
    ap.add_argument(
        "--on-ready",
        help="shell command started when every subscriber is connected and the server is "
        "idle, just before the first event (e.g. py-spy record on the server); waited for "
        "at the end",
    )
    ap.add_argument("--label", default="")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if bool(args.vote) == bool(args.publish):
        ap.error("give one of --vote or --publish")
    if args.vote and not (args.event and args.proposals and args.tokens):
        ap.error("--vote needs --event, --proposals and --tokens")
    raise_nofile()

    pid = args.server_pid
    args.rss_before = procstat.rss_kb(pid) if pid else None  # before any subscriber
    trigger = Trigger(args)
    q: Any = mp.Queue()
    stop = mp.Event()
    share = [args.subs // args.procs + (i < args.subs % args.procs) for i in range(args.procs)]
    firsts = [sum(share[:i]) for i in range(args.procs)]
    procs = [
        mp.Process(target=worker, args=(args, firsts[i], share[i], q, stop))
        for i in range(args.procs)
    ]
    for p in procs:
        p.daemon = True  # a driver that fails must not wait for them forever
        p.start()
    try:
        measured = drive(args, pid, trigger, q, procs)
    finally:
        stop.set()
    hook, connect_wall, ready, failed, window, trigger_s, extra = measured
    if hook is not None:
        hook.wait()
    parts = [q.get()[1] for _ in procs]
    for p in procs:
        p.join()

    lat: list[float] = []
    seqs: list[int] = []
    for part in parts:
        a, s = array("d"), array("q")
        a.frombytes(part["lat"])
        s.frombytes(part["lat_seq"])
        lat += a.tolist()
        seqs += s.tolist()
    by_seq: dict[int, list[float]] = {}
    for seq, value in zip(seqs, lat, strict=True):
        by_seq.setdefault(seq, []).append(value)
    lat.sort()

    def total(key: str) -> int:
        return sum(int(part[key]) for part in parts)

    errors: Counter[str] = Counter()
    for part in parts:
        errors.update(part["errors"])
    expected = ready * args.events
    result: dict[str, Any] = {
        "label": args.label,
        "subs": args.subs,
        "subs_ready": ready,
        "subs_failed": failed,
        "connect_retries": total("retried"),
        "connect_errors": dict(errors),
        "connect_s": round(connect_wall, 1),
        "events": args.events,
        "expected": expected,
        "delivered": total("delivered"),
        "lost": total("lost"),
        "duplicates": total("delivered") - total("unique"),
        "extra": total("extra"),
        "out_of_order_conns": total("out_of_order_conns"),
        "closed_early": total("closed_early"),
        "p50_ms": round(pct(lat, 0.50) * 1000, 1),
        "p90_ms": round(pct(lat, 0.90) * 1000, 1),
        "p99_ms": round(pct(lat, 0.99) * 1000, 1),
        "max_ms": round(lat[-1] * 1000, 1) if lat else None,
        "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else None,
        "per_event": [
            {
                "seq": seq,
                "n": len(values),
                "p50_ms": round(pct(sorted(values), 0.5) * 1000, 1),
                "p99_ms": round(pct(sorted(values), 0.99) * 1000, 1),
                "max_ms": round(max(values) * 1000, 1),
            }
            for seq, values in sorted(by_seq.items())
        ],
        "trigger_ms": [round(s * 1000, 1) for s in trigger_s],
        "window_s": round(window, 2),
    }
    result |= extra
    line = json.dumps(result)
    print(line)
    if args.out:
        with args.out.open("a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
