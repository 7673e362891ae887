"""Benchmark of the HTTP API (gunicorn, Flask, flask-smorest) against the journal beneath it.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/ledger \\
        .venv/bin/python scripts/bench_api.py [--transfers 8000] [--clients 8] [--workers 4]

Each run creates a throwaway database next to DATABASE_URL (``<name>_bench_<run>``),
migrates it, and creates directly through the library a partner principal with an
API key, a settlement account and 1,000 funded wallets owned by the partner (then
VACUUM ANALYZE and CHECKPOINT, so the first scenario starts as settled as the
later ones). Then:

* http single   the real server (``gunicorn 'api.app:create_app()'`` on 127.0.0.1, a
                free port, sync workers, LOG_REQUESTS=0, rate limits off) and K client
                processes, each with one keep-alive ``http.client`` connection (sync
                workers close it after each response; it reopens), posting single
                transfers between random wallets (POST /v1/transactions, a unique
                Idempotency-Key each; a replayed answer counts as an error);
* http single (logs on)   the same with LOG_REQUESTS=1 (JSON lines to a file);
* http batch    POST /v1/transactions/batch, 1,000 transfers (2,000 postings) each,
                from 2 clients;
* floor           GET /healthz (no database, no key) and GET /v1/me (the key lookup
                only) from the same clients on the same server: what gunicorn, Flask
                and the clients cost on this machine before any money moves, the
                ceiling under every other HTTP figure;
* ledger single / ledger batch   the same workloads through the library
                (``scripts/bench_ledger.py``'s workers), for the HTTP overhead ratio;
* ``--sweep 3,5,8,3x4``   http single again for other worker counts (``NxT``: N
                gthread workers with T threads each).

For every HTTP scenario it reports the CPU used by the clients, gunicorn and
PostgreSQL (from /proc) and the database commits and WAL bytes per request, and how
busy the machine was (busy: our processes; others: everything else, e.g. other
people's tests), so a figure limited by the client, by this machine's 2 cores or
by someone else's load is visible as such.
``--profile DIR`` profiles every gunicorn worker (a gunicorn config file with
post-fork and pre/post-request hooks; the app is not changed): a stack sampler on
the workers' CPU (``--profile-clock cpu``) or wall time, or cProfile
(``--profile-mode cprofile``, with call counts), and prints where a request's
time goes. ``--runs 3`` repeats everything on fresh databases and prints medians and
ranges. The throwaway database is dropped at the end (``--keep`` keeps it) and the
server is always stopped.

Targets (PostgreSQL, this 2-core machine): http single >= 1,000 transfers/s with
p99 < 50 ms at 8 clients; http batch >= 50,000 postings/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench_ledger
from _bench_common import drop_database, result_of, throwaway_database
from sqlalchemy import create_engine, make_url, text

from ledger.access import create_principal, issue_key
from ledger.config import normalize_database_url
from ledger.db import create_database
from ledger.journal import post_batch
from ledger.journal.types import TransactionSpec, credit, debit
from ledger.migrations import upgrade
from ledger.parties import PartnerAccountSpec, open_partner_account

ROOT = Path(__file__).resolve().parent.parent
WALLETS = 1_000
BATCH_SIZE = 1_000
FUNDING_MINOR = 10**12
CURRENCY = "USD"
CORES = os.cpu_count() or 1
#: Sync workers. Not gunicorn's 2 x cores + 1: the server is CPU-bound and shares
#: the cores with PostgreSQL and the clients, and on 2 cores 3 to 4 workers did as
#: well as or better than 5, 6 or 8 (fewer context switches); 2 leave the CPU idle
#: while they wait on PostgreSQL. gthread workers use less CPU per request
#: (keep-alive) but left a quarter of the CPU idle (the GIL) and were not faster.
DEFAULT_WORKERS = CORES + 2
TARGETS = {
    "http_single_per_second": 1_000,
    "http_single_p99_ms": 50,
    "http_batch_postings_per_second": 50_000,
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class HttpResult:
    """A scenario's figures plus what it cost, per operation (request)."""

    scenario: str
    operations: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    client_cpu_ms_per_request: float = 0.0
    server_cpu_ms_per_request: float = 0.0
    postgres_cpu_ms_per_request: float = 0.0
    client_cpu_share: float = 0.0  # of the machine (all cores) over the scenario
    machine_busy_share: float = 0.0  # clients + server + postgres, of all cores
    others_busy_share: float = 0.0  # everything else on the machine (other users' work)
    commits_per_request: float = 0.0
    wal_bytes_per_request: float = 0.0


# --------------------------------------------------------------------------- setup


@dataclass(frozen=True)
class Fixture:
    token: str
    partner_id: str
    settlement: int
    wallets: list[int]


def setup(url: str, run: str) -> Fixture:
    """Partner, key and funded accounts, written directly through the library."""
    database = create_database(url)
    now = datetime.now(UTC)

    def create(connection: Any) -> Fixture:
        partner = create_principal(
            connection, slug=f"bench-{run}", name="Benchmark partner", role="partner", now=now
        )
        issued = issue_key(connection, partner.id, label="bench_api", now=now)
        settlement = open_partner_account(
            connection,
            partner,
            PartnerAccountSpec(
                "Settlement", "asset", CURRENCY, code="settlement", allow_overdraft=True
            ),
            now=now,
        ).account.id
        wallets = [
            open_partner_account(
                connection,
                partner,
                PartnerAccountSpec(f"Wallet {i}", "liability", CURRENCY, code=f"w{i}"),
                now=now,
            ).account.id
            for i in range(WALLETS)
        ]
        return Fixture(issued.secret, str(partner.id), settlement, wallets)

    fixture = database.run(create)
    funding = [
        TransactionSpec(
            (
                debit(fixture.settlement, FUNDING_MINOR, CURRENCY),
                credit(wallet, FUNDING_MINOR, CURRENCY),
            )
        )
        for wallet in fixture.wallets
    ]
    for start in range(0, len(funding), 1_000):
        database.run(lambda s, chunk=funding[start : start + 1_000]: post_batch(s, chunk))
    database.dispose()
    # The first scenario starts from the state the later ones see: tables analyzed
    # (not by autovacuum half-way through it) and the setup's writes checkpointed.
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
        connection.execute(text("CHECKPOINT"))
    engine.dispose()
    return fixture


# -------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


CPROFILE_HOOKS = '''\
"""gunicorn config written by scripts/bench_api.py --profile-mode cprofile: cProfile
per worker, enabled only while a request is handled, dumped when the worker exits."""
import cProfile
import os
import time

PROFILE_DIR = {directory!r}
CLOCK = {clock!r}


def post_fork(server, worker):
    timer = time.process_time if CLOCK == "cpu" else time.perf_counter
    worker.bench_profile = cProfile.Profile(timer)


def pre_request(worker, req):
    worker.bench_profile.enable()


def post_request(worker, req, environ, resp):
    worker.bench_profile.disable()


def worker_exit(server, worker):
    worker.bench_profile.dump_stats(os.path.join(PROFILE_DIR, f"worker-{{worker.pid}}.prof"))
'''

SAMPLER_HOOKS = '''\
"""gunicorn config written by scripts/bench_api.py --profile-mode sample: a statistical
profiler per worker. On a timer of the worker's CPU time (clock "cpu", ITIMER_PROF)
or of wall time (clock "wall", ITIMER_REAL) the Python stack is recorded, weighted
by the time since the previous sample (the kernel may fire less often than asked,
once per scheduler tick); the totals are written when the worker exits. Far less
overhead than cProfile, and no call counts. Nothing is counted before the
worker's first request (importing the app)."""
import collections
import os
import pickle
import signal
import time

PROFILE_DIR = {directory!r}
CLOCK = {clock!r}
INTERVAL = {interval!r}
TIMER = signal.ITIMER_PROF if CLOCK == "cpu" else signal.ITIMER_REAL
SIGNAL = signal.SIGPROF if CLOCK == "cpu" else signal.SIGALRM
NOW = time.process_time if CLOCK == "cpu" else time.perf_counter


def post_fork(server, worker):
    worker.bench_samples = collections.Counter()
    worker.bench_requests = 0
    worker.bench_in_request = False
    worker.bench_last = NOW()

    def sample(signum, frame):
        now = NOW()
        elapsed, worker.bench_last = now - worker.bench_last, now
        if worker.bench_requests == 0:
            return
        if CLOCK != "cpu" and not worker.bench_in_request:
            return  # wall clock: only time spent on a request
        stack = []
        while frame is not None:
            stack.append((frame.f_code.co_filename, frame.f_code.co_name))
            frame = frame.f_back
        worker.bench_samples[(worker.bench_in_request, tuple(stack))] += elapsed

    signal.signal(SIGNAL, sample)
    signal.setitimer(TIMER, INTERVAL, INTERVAL)


def pre_request(worker, req):
    if worker.bench_requests == 0:
        worker.bench_last = NOW()
    worker.bench_requests += 1
    worker.bench_in_request = True


def post_request(worker, req, environ, resp):
    worker.bench_in_request = False


def worker_exit(server, worker):
    signal.setitimer(TIMER, 0, 0)
    path = os.path.join(PROFILE_DIR, f"worker-{{worker.pid}}.samples")
    with open(path, "wb") as file:
        pickle.dump(
            {{"requests": worker.bench_requests, "samples": dict(worker.bench_samples)}},
            file,
        )
'''
SAMPLE_INTERVAL = 0.0005


@dataclass(frozen=True)
class ServerConfig:
    workers: int
    threads: int = 1  # > 1: gthread workers

    @property
    def label(self) -> str:
        if self.threads > 1:
            return f"{self.workers} gthread workers x {self.threads} threads"
        return f"{self.workers} sync workers"

    @classmethod
    def parse(cls, spec: str) -> ServerConfig:
        workers, _, threads = spec.strip().partition("x")
        return cls(int(workers), int(threads or 1))


class Server:
    """``gunicorn 'api.app:create_app()'`` on a free port; stopped on exit, always."""

    def __init__(
        self,
        url: str,
        config: ServerConfig,
        *,
        log_requests: bool,
        log_path: Path,
        profile_dir: Path | None = None,
        profile_clock: str = "wall",
        profile_mode: str = "sample",
    ) -> None:
        self.url, self.config, self.log_requests = url, config, log_requests
        self.log_path, self.profile_dir = log_path, profile_dir
        self.profile_clock, self.profile_mode = profile_clock, profile_mode
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        command = [
            str(gunicorn),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.config.workers),
            "--worker-class",
            "gthread" if self.config.threads > 1 else "sync",
            "--threads",
            str(self.config.threads),
            "--timeout",
            "120",
            "--graceful-timeout",
            "10",
        ]
        if self.profile_dir is not None:
            hooks = self.profile_dir / "gunicorn_profile.py"
            hooks.write_text(
                (CPROFILE_HOOKS if self.profile_mode == "cprofile" else SAMPLER_HOOKS).format(
                    directory=str(self.profile_dir),
                    clock=self.profile_clock,
                    interval=SAMPLE_INTERVAL,
                )
            )
            command += ["--config", str(hooks)]
        command.append("api.app:create_app()")
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "LOG_REQUESTS": "1" if self.log_requests else "0",
            "RATE_LIMIT_PER_SECOND": "0",  # 0 switches the limit off
        }
        env.pop("WEB_CONCURRENCY", None)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_tail()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200 and len(self.worker_pids()) >= (
                    self.config.workers
                ):
                    connection.close()
                    return
                connection.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready after 60 s: {self.log_tail()}")

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3_000:]

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def pids(self) -> list[int]:
        return [self.process.pid, *self.worker_pids()] if self.process else []

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # graceful: workers finish, profile hooks dump
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # our own session only
            process.wait()

    def __exit__(self, *_: object) -> None:
        self.stop()


# ------------------------------------------------------------------ measurements


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of ``pids`` so far (processes that have gone are skipped)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def speed_probe() -> float:
    """Milliseconds of CPU for a fixed piece of pure Python (best of 5): this machine's
    speed of the moment. Shared virtual machines drift; a run whose probe is 30%
    slower is not comparable figure for figure with a fast one."""
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        table: dict[str, int] = {}
        for i in range(60_000):
            table[f"k{i % 997}"] = table.get(f"k{i % 997}", 0) + i
        best = min(best, time.process_time() - started)
    return round(best * 1_000, 2)


def machine_busy_seconds() -> float:
    """CPU time the whole machine has been busy (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class DatabaseCounters:
    """Commits and WAL written in the benchmark database, from PostgreSQL's statistics."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1)
        self.name = make_url(url).database

    def read(self) -> tuple[int, int]:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_stat_force_next_flush()"))
            commits = connection.execute(
                text("SELECT xact_commit FROM pg_stat_database WHERE datname = :name"),
                {"name": self.name},
            ).scalar_one()
            wal = connection.execute(
                text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")
            ).scalar_one()
        return int(commits), int(wal)

    def dispose(self) -> None:
        self.engine.dispose()


# ------------------------------------------------------------------------- clients


def _transfer(source: int, target: int) -> dict[str, Any]:
    amount = {"amount": "0.01", "currency": CURRENCY}
    return {
        "postings": [
            {"account_id": source, "direction": "debit", "amount": amount},
            {"account_id": target, "direction": "credit", "amount": amount},
        ],
        "description": "bench",
    }


#: Request kinds: method, path and the status that counts as success. "healthz"
#: (no database, no key) and "me" (the key lookup only) measure the floor under the
#: money-moving requests: what gunicorn, Flask and the clients alone cost here.
KINDS: dict[str, tuple[str, str, int]] = {
    "single": ("POST", "/v1/transactions", 201),
    "batch": ("POST", "/v1/transactions/batch", 201),
    "healthz": ("GET", "/healthz", 200),
    "me": ("GET", "/v1/me", 200),
}


def _bodies(kind: str, count: int, seed: int, wallets: list[int]) -> list[bytes | None]:
    rng = random.Random(seed)
    if kind in ("healthz", "me"):
        return [None] * count
    if kind == "single":
        return [json.dumps(_transfer(*rng.sample(wallets, 2))).encode() for _ in range(count)]
    return [
        json.dumps(
            {"transactions": [_transfer(*rng.sample(wallets, 2)) for _ in range(BATCH_SIZE)]}
        ).encode()
        for _ in range(count)
    ]


def http_client(
    port: int,
    token: str,
    kind: str,
    count: int,
    warmup: int,
    seed: int,
    key_prefix: str,
    wallets: list[int],
    barrier: Any,
    queue: Any,
) -> None:
    """One client: one keep-alive connection (reopened when the server closes it)."""
    method, path, _expected = KINDS[kind]
    bodies = _bodies(kind, warmup + count, seed, wallets)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(index: int) -> int | str:
        headers["Idempotency-Key"] = f"{key_prefix}-{index}"
        try:
            connection.request(method, path, bodies[index], headers)
            response = connection.getresponse()
            response.read()
            if response.getheader("Idempotent-Replayed"):  # every key is new: a bug
                return f"{response.status} replayed"
            return response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            return 0

    for index in range(warmup):
        post(index)
    barrier.wait()  # everyone warmed up: the parent reads the counters
    barrier.wait()  # go
    cpu = time.process_time()
    started = time.perf_counter()
    latencies: list[float] = []
    statuses: Counter[int | str] = Counter()
    for index in range(warmup, warmup + count):
        begin = time.perf_counter()
        statuses[post(index)] += 1
        latencies.append(time.perf_counter() - begin)
    finished = time.perf_counter()
    queue.put((started, finished, latencies, statuses, time.process_time() - cpu))
    connection.close()


def run_http(
    name: str,
    kind: str,
    server: Server,
    counters: DatabaseCounters,
    fixture: Fixture,
    *,
    operations: int,
    clients: int,
    warmup: int,
    key_prefix: str,
) -> HttpResult:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(clients + 1)
    queue = context.Queue()
    share = [operations // clients + (1 if i < operations % clients else 0) for i in range(clients)]
    processes = [
        context.Process(
            target=http_client,
            args=(
                server.port,
                fixture.token,
                kind,
                share[i],
                warmup,
                zlib.crc32(f"{key_prefix}-{i}".encode()),
                f"{key_prefix}-c{i}",
                fixture.wallets,
                barrier,
                queue,
            ),
        )
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    server_pids, pg_pids = server.pids(), postgres_pids()
    commits, wal = counters.read()
    server_cpu, pg_cpu = cpu_seconds(server_pids), cpu_seconds(pg_pids)
    busy = machine_busy_seconds()
    barrier.wait()
    reports = [queue.get() for _ in processes]
    busy = machine_busy_seconds() - busy
    server_cpu = cpu_seconds(server_pids) - server_cpu
    pg_cpu = cpu_seconds(pg_pids) - pg_cpu
    for process in processes:
        process.join()
    time.sleep(0.6)  # let PostgreSQL flush its statistics
    commits_after, wal_after = counters.read()
    started = min(report[0] for report in reports)
    finished = max(report[1] for report in reports)
    seconds = finished - started
    latencies = sorted(latency for report in reports for latency in report[2])
    statuses: Counter[int | str] = Counter()
    for report in reports:
        statuses.update(report[3])
    client_cpu = sum(report[4] for report in reports)
    expected = KINDS[kind][2]
    errors = sum(n for status, n in statuses.items() if status != expected)
    requests = sum(share)
    per_operation = 2 * BATCH_SIZE if kind == "batch" else 1
    ok = requests - errors
    base = result_of(name, ok * per_operation, seconds, latencies, errors)
    return HttpResult(
        **asdict(base),
        requests=requests,
        statuses={str(status): n for status, n in sorted(statuses.items(), key=str)},
        client_cpu_ms_per_request=round(client_cpu / requests * 1_000, 3),
        server_cpu_ms_per_request=round(server_cpu / requests * 1_000, 3),
        postgres_cpu_ms_per_request=round(pg_cpu / requests * 1_000, 3),
        client_cpu_share=round(client_cpu / (seconds * CORES), 3),
        machine_busy_share=round((client_cpu + server_cpu + pg_cpu) / (seconds * CORES), 3),
        others_busy_share=round(
            max(0.0, busy - client_cpu - server_cpu - pg_cpu) / (seconds * CORES), 3
        ),
        commits_per_request=round((commits_after - commits) / requests, 2),
        wal_bytes_per_request=round((wal_after - wal) / requests),
    )


# ----------------------------------------------------------------------- profiling

#: (label, file suffix, function): cumulative time per request in the profiled workers.
PROFILE_PHASES = [
    ("whole request (Flask.wsgi_app)", "flask/app.py", "wsgi_app"),
    ("authentication (before_request, 1 unit of work)", "api/auth.py", "_authenticate"),
    ("  authenticate() query", "ledger/access/keys.py", "authenticate"),
    ("idempotency decorator (all of the below)", "api/idempotency.py", "wrapper"),
    ("  fingerprint (canonical JSON + SHA-256)", "api/idempotency.py", "fingerprint"),
    ("  begin_request (claim) statements", "ledger/access/idempotency.py", "begin_request"),
    (
        "  finish_request (store response) statements",
        "ledger/access/idempotency.py",
        "finish_request",
    ),
    ("  request parsing (webargs + marshmallow load)", "webargs/core.py", "parse"),
    ("  view: create (transactions.py)", "api/resources/transactions.py", "create"),
    ("  view: create_batch (transactions.py)", "api/resources/transactions.py", "create_batch"),
    ("    post_batch (journal)", "ledger/journal/transactions.py", "post_batch"),
    ("    transaction_view", "api/resources/transactions.py", "transaction_view"),
    ("    require_owned_accounts", "ledger/parties/accounts.py", "require_owned_accounts"),
    ("    post_transaction (journal)", "ledger/journal/transactions.py", "post_transaction"),
    ("  response dump (marshmallow)", "marshmallow/schema.py", "dump"),
    ("  jsonify", "flask/json/__init__.py", "jsonify"),
    ("all units of work (Database.run)", "ledger/db.py", "run"),
    ("  commits (psycopg)", "psycopg/connection.py", "commit"),
    ("  statements (psycopg Cursor.execute)", "psycopg/cursor.py", "execute"),
    ("request log line (observability _finish)", "api/observability.py", "_finish"),
]


def cprofile_report(directory: Path, clock: str) -> dict[str, Any]:
    import pstats

    files = sorted(str(path) for path in directory.glob("worker-*.prof"))
    if not files:
        return {"error": "no profiles were written"}
    stats = pstats.Stats(*files)
    table: dict[tuple[str, str], tuple[int, float]] = {}
    for (filename, _line, function), (_cc, calls, _tt, cumulative, _callers) in (
        stats.stats.items()  # type: ignore[attr-defined]
    ):
        for _label, suffix, name in PROFILE_PHASES:
            if function == name and filename.endswith(suffix):
                previous = table.get((suffix, name), (0, 0.0))
                table[(suffix, name)] = (previous[0] + calls, previous[1] + cumulative)
    # Per money-moving request: the readiness probes that also went through
    # wsgi_app are not counted.
    requests = table.get(("api/idempotency.py", "wrapper"), (0, 0.0))[0]
    if not requests:
        return {"error": "the profiles hold no request"}
    phases = {}
    for label, suffix, name in PROFILE_PHASES:
        calls, cumulative = table.get((suffix, name), (0, 0.0))
        phases[label] = {
            "ms_per_request": round(cumulative / requests * 1_000, 3),
            "calls_per_request": round(calls / requests, 2),
        }
    top = sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda item: item[1][2],
        reverse=True,
    )[:25]
    return {
        "requests": requests,
        "clock": clock,
        "mode": "cprofile",
        "phases": phases,
        "top_own_time_ms_per_request": [
            {
                "function": f"{Path(filename).name}:{line}:{function}",
                "ms": round(own / requests * 1_000, 3),
                "calls": round(calls / requests, 2),
            }
            for (filename, line, function), (_cc, calls, own, _cum, _callers) in top
        ],
    }


def sample_report(directory: Path, clock: str) -> dict[str, Any]:
    """Time per request by phase: the samples whose stack holds the phase's function."""
    import pickle

    requests = 0
    samples: Counter[tuple[bool, tuple[tuple[str, str], ...]]] = Counter()
    for path in directory.glob("worker-*.samples"):
        with path.open("rb") as file:
            dump = pickle.load(file)  # noqa: S301 - written by our own hook just now
        requests += dump["requests"]
        samples.update(dump["samples"])
    if not requests or not samples:
        return {"error": "no samples were written"}

    def ms(seconds: float) -> float:
        return round(seconds / requests * 1_000, 3)

    total = sum(samples.values())
    in_request = sum(n for (inside, _), n in samples.items() if inside)
    phases = {
        "worker total (incl. gunicorn accept/parse/close)": {"ms_per_request": ms(total)},
        "in a request (pre_request .. post_request)": {"ms_per_request": ms(in_request)},
    }
    for label, suffix, name in PROFILE_PHASES:
        count = sum(
            n
            for (_, stack), n in samples.items()
            if any(f == name and file.endswith(suffix) for file, f in stack)
        )
        phases[label] = {"ms_per_request": ms(count)}
    leaves: Counter[str] = Counter()
    for (_, stack), n in samples.items():
        file, function = stack[0]
        leaves[f"{'/'.join(Path(file).parts[-2:])}:{function}"] += n
    return {
        "requests": requests,
        "clock": clock,
        "mode": "sample",
        "samples": len(samples),
        "phases": phases,
        "top_own_time_ms_per_request": [
            {"function": function, "ms": ms(n), "calls": 0.0}
            for function, n in leaves.most_common(25)
        ],
    }


# -------------------------------------------------------------------------- runner


def print_results(results: list[HttpResult | Any]) -> None:
    print(
        f"\n{'scenario':<40}{'ops':>8}{'seconds':>9}{'per second':>12}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'errors':>7}{'cpu ms/req cli/srv/pg':>25}"
        f"{'commits':>8}{'WAL B':>11}{'busy/others':>13}"
    )
    for result in results:
        line = (
            f"{result.scenario:<40}{result.operations:>8}{result.seconds:>9.2f}"
            f"{result.per_second:>12,.0f}{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}"
            f"{result.errors:>7}"
        )
        if isinstance(result, HttpResult):
            cpu = (
                f"{result.client_cpu_ms_per_request:.2f}/{result.server_cpu_ms_per_request:.2f}"
                f"/{result.postgres_cpu_ms_per_request:.2f}"
            )
            line += (
                f"{cpu:>25}{result.commits_per_request:>8.2f}{result.wal_bytes_per_request:>11,.0f}"
                f"{result.machine_busy_share:>8.0%}/{result.others_busy_share:<4.0%}"
            )
        print(line)


def verdicts(figures: dict[str, float]) -> dict[str, str]:
    checks = {
        "http_single_per_second": figures["http_single_per_second"]
        >= TARGETS["http_single_per_second"],
        "http_single_p99_ms": figures["http_single_p99_ms"] < TARGETS["http_single_p99_ms"],
        "http_batch_postings_per_second": figures["http_batch_postings_per_second"]
        >= TARGETS["http_batch_postings_per_second"],
    }
    return {key: "meets target" if ok else "BELOW target" for key, ok in checks.items()}


def one_run(arguments: argparse.Namespace, index: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    url = throwaway_database(normalize_database_url(arguments.database_url), run)
    if make_url(url).get_backend_name() != "postgresql":
        raise SystemExit("bench_api needs PostgreSQL (the server and clients share it)")
    work = Path(tempfile.mkdtemp(prefix=f"bench_api_{run}_"))
    counters: DatabaseCounters | None = None
    try:
        upgrade(url)
        probe = speed_probe()
        print(
            f"\nrun {index + 1}/{arguments.runs} ({run}): load average "
            f"{os.getloadavg()[0]:.2f}, speed probe {probe} ms; "
            f"{WALLETS} partner wallets + settlement",
            flush=True,
        )
        fixture = setup(url, run)
        counters = DatabaseCounters(url)
        main = ServerConfig(arguments.workers, arguments.threads)
        results: list[Any] = []
        common = {"counters": counters, "fixture": fixture, "warmup": arguments.warmup}

        def server(config: ServerConfig, *, logs: bool, profile: Path | None = None) -> Server:
            return Server(
                url,
                config,
                log_requests=logs,
                log_path=work / "gunicorn.log",
                profile_dir=profile,
                profile_clock=arguments.profile_clock,
                profile_mode=arguments.profile_mode,
            )

        print(f"  http single, {main.label}, {arguments.clients} clients", flush=True)
        with server(main, logs=False) as running:
            single = run_http(
                f"http single ({main.workers}{'x' + str(main.threads) if main.threads > 1 else ''}"
                " workers)",
                "single",
                running,
                operations=arguments.transfers,
                clients=arguments.clients,
                key_prefix=f"single-{run}",
                **common,
            )
            results.append(single)
            print(f"  http batch, {arguments.batch_clients} clients", flush=True)
            batch = run_http(
                "http batch (postings)",
                "batch",
                running,
                operations=arguments.batches,
                clients=arguments.batch_clients,
                key_prefix=f"batch-{run}",
                **{**common, "warmup": 1},
            )
            results.append(batch)
            floors: dict[str, HttpResult] = {}
            if arguments.floor:
                for kind, label in (("healthz", "GET /healthz"), ("me", "GET /v1/me")):
                    print(f"  floor: {label}, {arguments.clients} clients", flush=True)
                    floors[kind] = run_http(
                        f"floor: {label}",
                        kind,
                        running,
                        operations=arguments.transfers,
                        clients=arguments.clients,
                        key_prefix=f"{kind}-{run}",
                        **common,
                    )
                    results.append(floors[kind])
        if arguments.log_variant:
            print("  http single, request logs on", flush=True)
            with server(main, logs=True) as running:
                results.append(
                    run_http(
                        "http single (LOG_REQUESTS=1)",
                        "single",
                        running,
                        operations=arguments.transfers,
                        clients=arguments.clients,
                        key_prefix=f"logs-{run}",
                        **common,
                    )
                )
        for number, spec in enumerate(arguments.sweep):
            config = ServerConfig.parse(spec)
            print(f"  sweep: http single, {config.label}", flush=True)
            with server(config, logs=False) as running:
                results.append(
                    run_http(
                        f"http single ({spec.strip()} workers)",
                        "single",
                        running,
                        operations=arguments.transfers,
                        clients=arguments.clients,
                        key_prefix=f"sweep{number}-{run}",
                        **common,
                    )
                )
        profiles: dict[str, Any] = {}
        if arguments.profile:
            for kind, count in (
                ("single", arguments.profile_transfers),
                ("batch", arguments.profile_batches),
            ):
                if not count:
                    continue
                directory = Path(arguments.profile) / f"{run}-{kind}"
                directory.mkdir(parents=True, exist_ok=True)
                print(f"  profile: http {kind} under cProfile into {directory}", flush=True)
                with server(main, logs=False, profile=directory) as running:
                    results.append(
                        run_http(
                            f"http {kind} (cProfile on)",
                            kind,
                            running,
                            operations=count,
                            clients=arguments.clients if kind == "single" else 1,
                            key_prefix=f"profile-{kind}-{run}",
                            **{**common, "warmup": common["warmup"] if kind == "single" else 1},
                        )
                    )
                profiles[kind] = (
                    cprofile_report(directory, arguments.profile_clock)
                    if arguments.profile_mode == "cprofile"
                    else sample_report(directory, arguments.profile_clock)
                )

        library_single = library_batch = None
        if arguments.library_transfers:
            print(f"  library single, {arguments.clients} workers", flush=True)
            library_single = bench_ledger.run_scenario(
                "ledger single (library)",
                bench_ledger.ledger_worker,
                url=url,
                operations=arguments.library_transfers,
                workers=arguments.clients,
                hot=None,
                wallets=fixture.wallets,
            )
            results.append(library_single)
        if arguments.library_batches:
            print(f"  library batch, {arguments.batch_clients} workers", flush=True)
            library_batch = bench_ledger.run_scenario(
                "ledger batch (library, postings)",
                bench_ledger.batch_worker,
                url=url,
                operations=arguments.library_batches,
                workers=arguments.batch_clients,
                hot=None,
                wallets=fixture.wallets,
                per_operation=2 * BATCH_SIZE,
            )
            results.append(library_batch)

        check = check_database(url, fixture)
        print_results(results)
        figures: dict[str, float] = {
            "speed_probe_ms": probe,
            "http_single_per_second": single.per_second,
            "http_single_p50_ms": single.p50_ms,
            "http_single_p99_ms": single.p99_ms,
            "http_batch_postings_per_second": batch.per_second,
        }
        for kind, floor in floors.items():
            figures[f"floor_{kind}_per_second"] = floor.per_second
            figures[f"floor_{kind}_p99_ms"] = floor.p99_ms
        if library_single is not None:
            figures["library_single_per_second"] = library_single.per_second
            figures["http_vs_library_single"] = round(
                single.per_second / library_single.per_second, 3
            )
        if library_batch is not None:
            figures["library_batch_postings_per_second"] = library_batch.per_second
            figures["http_vs_library_batch"] = round(batch.per_second / library_batch.per_second, 3)
        print(f"  load average after the run: {os.getloadavg()[0]:.2f}; database check: {check}")
        return {
            "run": run,
            "results": [asdict(r) for r in results],
            "figures": figures,
            "profiles": profiles,
            "check": check,
        }
    finally:
        if counters is not None:
            counters.dispose()
        if not arguments.keep:
            drop_database(url)
        else:
            print(f"  kept {make_url(url).render_as_string(hide_password=True)}")
        for leftover in work.iterdir():
            leftover.unlink()
        work.rmdir()


def check_database(url: str, fixture: Fixture) -> dict[str, Any]:
    """What the requests left behind: no key stuck in flight, money conserved."""
    engine = create_engine(url)
    with engine.connect() as connection:
        states = dict(
            connection.execute(
                text("SELECT state, count(*) FROM idempotent_requests GROUP BY state")
            ).all()
        )
        total = connection.execute(
            text("SELECT sum(debits_posted_minor) - sum(credits_posted_minor) FROM accounts")
        ).scalar_one()
        posted = connection.execute(
            text("SELECT count(*) FROM transactions WHERE client_id = :client"),
            {"client": fixture.partner_id},
        ).scalar_one()
    engine.dispose()
    return {
        "idempotent_requests": states,
        "partner_transactions": int(posted),
        "debits_minus_credits": int(total),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    keys = runs[0]["figures"].keys()
    summary = {}
    for key in keys:
        values = [run["figures"][key] for run in runs if key in run["figures"]]
        summary[key] = {
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--transfers", type=int, default=8_000, help="http single transfers")
    parser.add_argument("--clients", type=int, default=8, help="client processes (single)")
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=f"gunicorn sync workers (default cores + 2 = {DEFAULT_WORKERS})",
    )
    parser.add_argument("--threads", type=int, default=1, help="> 1: gthread workers")
    parser.add_argument("--batches", type=int, default=20, help="1,000-transfer batches")
    parser.add_argument("--batch-clients", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=25, help="untimed requests per client")
    parser.add_argument(
        "--library-transfers", type=int, default=4_000, help="library single (0: skip)"
    )
    parser.add_argument("--library-batches", type=int, default=20, help="library batch (0: skip)")
    parser.add_argument(
        "--no-log-variant",
        dest="log_variant",
        action="store_false",
        help="skip http single with LOG_REQUESTS=1",
    )
    parser.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="skip the floor scenarios (GET /healthz, GET /v1/me)",
    )
    parser.add_argument(
        "--sweep",
        type=lambda value: [v for v in value.split(",") if v.strip()],
        default=[],
        help="other worker counts for http single: 3,5,8 (sync) or 3x4 (gthread)",
    )
    parser.add_argument("--profile", metavar="DIR", help="profile the workers into DIR")
    parser.add_argument(
        "--profile-mode",
        choices=("sample", "cprofile"),
        default="sample",
        help="sample: stack samples, little overhead; cprofile: call counts, inflated times",
    )
    parser.add_argument("--profile-transfers", type=int, default=3_000)
    parser.add_argument("--profile-batches", type=int, default=4)
    parser.add_argument(
        "--profile-clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: where a request waits too; cpu: only what the worker computes",
    )
    parser.add_argument("--runs", type=int, default=1, help="repeat on fresh databases")
    parser.add_argument("--json", action="store_true", help="print results as JSON too")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway databases")
    arguments = parser.parse_args(argv)
    if not arguments.database_url:
        parser.error("set DATABASE_URL or --database-url (a PostgreSQL database)")
    # SIGTERM runs the finally blocks too: the server is stopped, the database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    runs = [one_run(arguments, index) for index in range(arguments.runs)]
    summary = summarize(runs)
    print(
        f"\n{arguments.runs} run(s); {ServerConfig(arguments.workers, arguments.threads).label}, "
        f"{arguments.clients} clients; batches from {arguments.batch_clients} clients; "
        f"{CORES} cores. median [min - max]:"
    )
    medians = {key: value["median"] for key, value in summary.items()}
    verdict = verdicts(medians)
    for key, value in summary.items():
        note = f"  {verdict[key]} ({TARGETS[key]:,})" if key in verdict else ""
        print(f"  {key:<36}{value['median']:>12,} [{value['min']:,} - {value['max']:,}]{note}")
    for run in runs:
        for kind, profile in run["profiles"].items():
            print_profile(kind, profile)
    if arguments.json:
        print(json.dumps({"runs": runs, "summary": summary, "verdicts": verdict}))
    return 0


def print_profile(kind: str, profile: dict[str, Any]) -> None:
    if "error" in profile:
        print(f"\nprofile of http {kind}: {profile['error']}")
        return
    print(
        f"\nprofile of http {kind}, {profile['requests']} requests, per request "
        f"({profile['clock']} time, {profile.get('mode', 'cprofile')}):"
    )
    for label, figures in profile["phases"].items():
        calls = figures.get("calls_per_request")
        print(
            f"  {label:<52}{figures['ms_per_request']:>8.3f} ms"
            + (f"{calls:>7.2f} calls" if calls is not None else "")
        )
    print("  top own time per request:")
    for item in profile["top_own_time_ms_per_request"][:15]:
        calls = f"{item['calls']:>7.2f} calls" if profile.get("mode") == "cprofile" else ""
        print(f"    {item['function']:<70}{item['ms']:>8.3f} ms{calls}")


if __name__ == "__main__":
    sys.exit(main())
