"""Growth: each API operation's cost at 1 k, 100 k and 1 M certificates, as a ratio to its 1 k cost.

    python bench/bench_growth.py [--sizes 1000,100000,1000000] [--postgres URL] [--no-sqlite] [--reps 30] [--rounds 3]

For every size a fresh database is migrated and loaded through the bulk path
(``issuing.issue_batch``, 1,000 items per transaction, the same code as ``POST
/api/v1/certificates/batch``); then each operation runs ``--reps`` times in-process through the
Flask test client, in rounds that alternate between the sizes (so drift in the machine's load
falls on all of them), and its median is printed with the ratio to the first size. Bytes per
certificate: the SQLite file (after a WAL checkpoint) or ``pg_total_relation_size`` of every
table, divided by the number of certificates. ``--postgres`` creates one database per size beside
the one named (``<name>_growth_<size>``) and drops and rebuilds their public schema.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from alembic import command  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from registry import create_app  # noqa: E402
from registry.cli import alembic_config  # noqa: E402
from registry.db import make_engine, new_session  # noqa: E402
from registry.models import Certificate  # noqa: E402
from registry import outbox  # noqa: E402
from registry.services import accreditation, issuing  # noqa: E402
from tests.factories import body_data, certificate_request, footprint, product  # noqa: E402
from _common import MASTER_KEY, add_cement  # noqa: E402

PUBLIC_URL = "http://registry.bench"
BODIES = 10
GTINS = 10             # few products and makers: every filtered page is a full page at 1 k too
MANUFACTURERS = 7


def gtin(n: int) -> str:
    digits = f"690{n:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def item(n: int) -> dict:
    g = n % GTINS
    m = n % MANUFACTURERS
    prod = product(gtin=gtin(g), name=f"Cement {g}",
                   manufacturer={"name": f"Manufacturer {m}", "id": f"urn:uscc:9134000{m:011d}"})
    pcf = f"{0.60 + (n % 29) / 100:.2f}"
    kind = "low-carbon" if n % 5 == 0 else "carbon-footprint"
    return certificate_request(kind, product=prod, footprint=footprint(pcf))


def fresh_database(backend: str, pg_url: str | None, tmp: Path, size: int) -> str:
    if backend == "sqlite":
        url = f"sqlite:///{tmp / f'growth-{size}.sqlite3'}"
    else:
        url = pg_url
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    command.upgrade(alembic_config(url), "head")
    return url


def load(app, size: int) -> list:
    """Bodies, then ``size`` certificates through the bulk path, 1,000 per transaction."""
    signer = app.extensions["registry.signer"]
    with app.app_context():
        session = new_session()
        add_cement(session)
        bodies = []
        for i in range(BODIES):
            data = body_data(name=f"Bench body {i}", code=f"BB{i:03d}")
            data["accreditation"]["scope"]["certificateTypes"] = ["carbon-footprint", "low-carbon",
                                                                  "reduced-carbon", "carbon-neutral"]
            body, client, secret = accreditation.create_body(session, signer, data, public_url=PUBLIC_URL,
                                                             actor="bench")
            bodies.append((body.id, client.client_id, secret))
        session.commit()
        t0, done = time.perf_counter(), 0
        while done < size:
            n = min(1000, size - done)
            body_id, client_id, _ = bodies[(done // 1000) % BODIES]
            body = accreditation.get_body(session, body_id)
            results = issuing.issue_batch(session, signer, body, [item(done + i) for i in range(n)],
                                          public_url=PUBLIC_URL, actor="bench", client_id=client_id)
            session.commit()
            session.expunge_all()  # a long load must not keep every certificate in memory
            while outbox.fan_out(app):  # what the worker does meanwhile in a running registry
                pass
            bad = [r for r in results if r.status != 201]
            if bad:
                raise SystemExit(f"bulk item refused: {bad[0].problem}")
            done += n
            if done % 50_000 == 0 and session.get_bind().dialect.name == "postgresql":
                # Autovacuum's part (off on this machine's server): with the outbox's settings
                # (migration 0012) it would run at least this often at this rate.
                with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("VACUUM outbox_events")
            if done % 50_000 == 0 or done == size:
                rate = done / (time.perf_counter() - t0)
                print(f"  loaded {done:>9,} ({rate:,.0f}/s)", file=sys.stderr, flush=True)
        session.close()
    return bodies


def reuse(app) -> list:
    """A new API client for the first body of a database built before (its secret is not stored)."""
    from registry import auth
    from registry.models import Body

    with app.app_context():
        session = new_session()
        body = session.scalars(select(Body).where(Body.code == "BB000")).one()
        client, secret = auth.create_client(session, name="growth bench", role="body", body_id=body.id)
        session.commit()
        found = [(body.id, client.client_id, secret)]
        session.close()
    return found


def bytes_per_certificate(app, backend: str) -> tuple[float, float]:
    """(all tables, certificates table with its indexes) divided by the number of certificates."""
    engine = app.extensions["registry.engine"]
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(Certificate))
        if backend == "postgresql":
            total = conn.exec_driver_sql(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'").scalar()
            certs = conn.exec_driver_sql("SELECT pg_total_relation_size('certificates')").scalar()
    if backend == "sqlite":
        raw = engine.raw_connection()  # outside a transaction: a checkpoint cannot run inside one
        try:
            one = lambda sql: raw.cursor().execute(sql).fetchone()[0]  # noqa: E731
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            total = (one("PRAGMA page_count") - one("PRAGMA freelist_count")) * one("PRAGMA page_size")
            try:
                certs = one("SELECT sum(pgsize) FROM dbstat WHERE name = 'certificates' OR name IN "
                            "(SELECT name FROM sqlite_master WHERE tbl_name = 'certificates' AND type = 'index')")
            except Exception:  # dbstat is an optional compile-time feature of SQLite
                certs = float("nan")
        finally:
            raw.close()
    return total / count, certs / count


def timed(fn, reps: int) -> list[float]:
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def measure(app, bodies, reps: int, round_: int = 0) -> dict[str, list[float]]:
    """Each operation ``reps`` times; the samples in seconds."""
    client = app.test_client()
    body_id, client_id, secret = bodies[0]
    import base64

    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    tok = client.post("/auth/token", data={"grant_type": "client_credentials"},
                      headers={"Authorization": f"Basic {basic}"}).get_json()["access_token"]
    auth = {"Authorization": f"Bearer {tok}"}
    with app.app_context():
        session = new_session()
        ids = session.scalars(select(Certificate.id).order_by(func.random()).limit(reps * 4)).all()
        sample = session.get(Certificate, ids[0])
        filters = {"gtin": sample.gtin, "manufacturer": sample.manufacturer_id, "category": sample.category_code,
                   "type": sample.type, "status": "active", "body": sample.body_id}
        session.close()
    rng = random.Random(7)
    out: dict[str, list[float]] = {}

    def ok(resp, status=200):
        assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
        return resp

    counter = iter(range(round_ * 10**6, 10**9))
    out["issue (POST /certificates)"] = timed(
        lambda: ok(client.post("/api/v1/certificates", json=item(next(counter) + 7), headers=auth), 201), reps)
    out["verify (GET /v/{id}, JSON)"] = timed(
        lambda: ok(client.get(f"/v/{rng.choice(ids)}", headers={"Accept": "application/json"})), reps)
    combos = [(), ("gtin",), ("manufacturer",), ("category",), ("type",), ("status",), ("body",),
              ("gtin", "status"), ("manufacturer", "type"), ("body", "status", "type"),
              ("category", "type", "status")]
    for combo in combos:
        query = "&".join(f"{k}={filters[k]}" for k in combo)
        first = ok(client.get(f"/api/v1/certificates?limit=50&{query}")).get_json()
        label = "search " + ("+".join(combo) or "no filter")
        out[label] = timed(lambda q=query: ok(client.get(f"/api/v1/certificates?limit=50&{q}")), reps)
        if first["next"]:
            out[label + ", page 2"] = timed(lambda u=first["next"]: ok(client.get(u)), reps)

    def revoke_with_dependants():
        # Two footprints of one product, and a reduced-carbon certificate resting on both: revoking
        # the first cascades to it.
        prod = item(next(counter) * 2000 + 1)["product"]
        base = ok(client.post("/api/v1/certificates", headers=auth, json=certificate_request(
            product=prod, footprint=footprint("1.00", start="2023-01-01T00:00:00Z", end="2023-12-31T23:59:59Z"))),
                  201).get_json()
        later = ok(client.post("/api/v1/certificates", headers=auth, json=certificate_request(
            product=prod, footprint=footprint("0.85"))), 201).get_json()
        ok(client.post("/api/v1/certificates", headers=auth, json=certificate_request(
            "reduced-carbon", product=prod, footprint=None, basedOn=[base["id"], later["id"]])), 201)
        t0 = time.perf_counter()
        ok(client.post(f"/api/v1/certificates/{base['id']}/revoke", json={"reason": "bench"}, headers=auth))
        return time.perf_counter() - t0, base

    samples, publish = [], []
    for _ in range(max(2, reps // 3)):
        elapsed, base = revoke_with_dependants()
        samples.append(elapsed)
        cred = ok(client.get(f"/api/v1/certificates/{base['id']}")).get_json()["credential"]
        import jwt

        status_url = jwt.decode(cred, options={"verify_signature": False})["credentialStatus"][0][
            "statusListCredential"]
        t0 = time.perf_counter()
        ok(client.get(status_url.replace(PUBLIC_URL, "")))  # first read after a flip: built and signed
        publish.append(time.perf_counter() - t0)
    out["revoke with dependants"] = samples
    out["status list publication (after a flip)"] = publish

    def trust_cold():
        app.extensions.pop("registry.trust_cache", None)
        ok(client.get("/trust-list"))

    out["trust list (rebuilt)"] = timed(trust_cold, max(2, reps // 3))
    out["trust list (cached)"] = timed(lambda: ok(client.get("/trust-list")), reps)
    return out


def pg_database(url: str, size: int) -> str:
    """A database of its own per size beside the one given (created if missing), so every size stays
    loaded while the measurements alternate between them."""
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_growth_{size}"
    engine = make_engine(base.set(database=base.database).render_as_string(hide_password=False))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--postgres", help="a PostgreSQL URL; each size gets a database <name>_growth_<size> "
                                           "beside it, whose schema is dropped and rebuilt")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--reuse", metavar="DIR",
                        help="measure the databases an earlier run built instead of building them: the SQLite "
                             "files growth-<size>.sqlite3 in DIR, and the PostgreSQL databases as they are")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3,
                        help="the reps are split over this many rounds that alternate between the sizes")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = ([] if args.no_sqlite else ["sqlite"]) + (["postgresql"] if args.postgres else [])
    for backend in backends:
        tmp = Path(tempfile.mkdtemp())
        apps: dict[int, tuple] = {}
        storage: dict[int, tuple[float, float]] = {}
        loads: dict[int, float] = {}
        for size in sizes:
            if args.reuse:
                url = (pg_database(args.postgres, size) if backend == "postgresql"
                       else f"sqlite:///{Path(args.reuse) / f'growth-{size}.sqlite3'}")
                command.upgrade(alembic_config(url), "head")
            else:
                print(f"{backend}: building {size:,} certificates", file=sys.stderr, flush=True)
                url = fresh_database(backend, pg_database(args.postgres, size) if backend == "postgresql" else None,
                                     tmp, size)
            app = create_app({"TESTING": True, "DATABASE_URL": url, "MASTER_KEY": MASTER_KEY,
                              "PUBLIC_URL": PUBLIC_URL, "RATELIMIT_ENABLED": False, "LOG_LEVEL": "ERROR"})
            app.instance_path = str(tmp / str(size))
            t0 = time.perf_counter()
            bodies = reuse(app) if args.reuse else load(app, size)
            loads[size] = float("nan") if args.reuse else size / (time.perf_counter() - t0)
            # What maintenance would have done by now: statistics, and on PostgreSQL (auto)vacuum,
            # which keeps the outbox (a queue: rows live seconds) at the size of its queue.
            engine = app.extensions["registry.engine"]
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE" if backend == "postgresql" else "ANALYZE")
            storage[size] = bytes_per_certificate(app, backend)
            apps[size] = (app, bodies)
        # Alternate: a change in the machine's load during the run falls on every size alike.
        samples: dict[int, dict[str, list[float]]] = {s: {} for s in sizes}
        reps = max(1, args.reps // args.rounds)
        for round_ in range(args.rounds):
            for size in sizes:
                for op, values in measure(*apps[size], reps, round_).items():
                    samples[size].setdefault(op, []).extend(values)
        results = {s: {op: statistics.median(v) * 1000 for op, v in samples[s].items()} for s in sizes}
        for size in sizes:
            apps[size][0].extensions["registry.engine"].dispose()
        base = sizes[0]
        print(f"\n== {backend}: median ms per operation, and ratio to {base:,} certificates "
              f"({args.rounds} alternating rounds) ==")
        head = "".join(f"{s:>14,}" for s in sizes)
        print(f"{'operation':44}{head}")
        for op in results[base]:
            cells = ""
            for s in sizes:
                v = results[s].get(op)
                cells += f"{'—':>14}" if v is None else f"{v:8.2f} ×{v / results[base][op]:4.2f}"
            print(f"{op:44}{cells}")
        print(f"{'bulk load, certificates per second':44}" + "".join(f"{loads[s]:14,.0f}" for s in sizes))
        print(f"{'bytes per certificate, whole database':44}" + "".join(f"{storage[s][0]:14,.0f}" for s in sizes))
        print(f"{'bytes per certificate, certificates table':44}" + "".join(f"{storage[s][1]:14,.0f}" for s in sizes))


if __name__ == "__main__":
    main()
