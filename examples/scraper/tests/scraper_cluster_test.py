#!/usr/bin/env python3
"""The scraper's --cluster mode, run as a user runs it, under mpirun.

    python3 examples/scraper/tests/scraper_cluster_test.py --scraper build/examples/scraper \
        --mpirun mpirun [--keep]
    python3 examples/scraper/tests/scraper_cluster_test.py --scraper build/examples/scraper --without-cluster

With weft::cluster (ctest -L cluster): make_site.py's site (about 320
pages), served by python3 -m http.server on 127.0.0.1, is crawled once
without --cluster and once as

    mpirun -n 3 scraper http://127.0.0.1:PORT/ --cluster --workers-per-rank 1 -o out.jsonl --stats stats.json \
        --extract ... --css ...

(with the root flags CI needs: --allow-run-as-root --oversubscribe, over
shared memory). Checked: both exit 0; the cluster crawl's records equal the
local crawl's (every field but the fetch time "ms" and the "depth", which
depends on the order parses finish in; the --extract and --css fields
included); --stats' "cluster" object says 2 serving ranks analyzed
every parsed page, each rank some of the batches, none failed; and no
process of the job (mpirun, the ranks, their fork servers and workers:
every process holding this run's marker in its environment) is left. Also:
--cluster without mpirun (a job of one rank) exits 2 saying so, and a usage
error under mpirun is printed once (by rank 0), exit code 2; and mpirun
without --cluster (each rank would crawl alone, into one output file) is
refused, said once, exit code 2.

--without-cluster (the examples label of a build without Open MPI):
scraper --cluster exits 2 with "this scraper was built without
weft::cluster".

Exit status 0 when every check passed, 1 otherwise; 77 (skipped) when the
scraper is not built in this build folder (CI's TSan stage builds only
the test programs).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(HERE, "..", "..", "..", "tests", "examples"))
import make_site  # noqa: E402
import webservers  # noqa: E402

# As the cluster module's tests: root needs --allow-run-as-root, 3 ranks on
# a 2-core machine --oversubscribe, and shared memory between the ranks
# (Open MPI's TCP transport takes its locks in an order TSan reports).
ROOT_FLAGS = ["--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader"]
RULES = ["--extract", "title_text=//title", "--css", "hrefs=a::attr(href)"]
RUN_TIMEOUT = 120
SKIPPED = 77
MARK = "WEFT_SCRAPER_CLUSTER_TEST"


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def ok(self, cond, name, detail=""):
        if cond:
            self.passed += 1
            return True
        self.failed.append(name)
        print(f"FAIL {name}", flush=True)
        for line in str(detail).rstrip("\n").split("\n") if detail else []:
            print(f"     {line}")
        sys.stdout.flush()
        return False


def run(argv, cwd, env=None, timeout=RUN_TIMEOUT):
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        rc = "timeout"
    took = time.monotonic() - t0
    text = err.decode("utf-8", "replace")
    print(f"  {' '.join(argv)}\n    exit {rc} in {took:.1f} s", flush=True)
    return rc, out.decode("utf-8", "replace"), text


def describe(rc, err):
    return f"exit code: {rc}\nstderr (end):\n" + "\n".join(err.splitlines()[-20:])


def read_records(path):
    records = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            # The fetch time differs between any two runs, and so may the
            # depth: a page linked from pages at several depths gets the
            # depth of the one whose links were queued first, which depends
            # on the order parses finish in (local or not).
            r.pop("ms", None)
            r.pop("depth", None)
            records[r["url"]] = r
    return records


def marked_processes(token):
    """pids whose environment holds MARK=token: everything the job started."""
    needle = f"{MARK}={token}".encode()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(pid))
        except OSError:
            pass
    return found


def wait_gone(token, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not marked_processes(token):
            return []
        time.sleep(0.1)
    return marked_processes(token)


def describe_pids(pids):
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            out.append(f"{pid}: {cmdline}")
        except OSError:
            out.append(f"{pid}: (gone)")
    return "\n".join(out)


def cluster_checks(c, a, scraper, work):
    site = os.path.join(work, "site")
    os.makedirs(site)
    with webservers.start("python", site) as server:
        manifest = make_site.generate(site, server.base_url)
        url = server.base_url + "/"
        print(f"  python http.server on {server.base_url}: {len(manifest['pages'])} HTML pages", flush=True)

        rc, _, err = run([scraper, url, "-o", "local.jsonl", "--stats", "local.json", *RULES], work)
        if not c.ok(rc == 0, "the local crawl exits 0", describe(rc, err)):
            return

        token = uuid.uuid4().hex
        env = dict(os.environ, **{MARK: token})
        # One worker per rank: a call goes to the least loaded rank (the
        # lowest on a tie), so that both ranks get pages even on a slow box.
        argv = [a.mpirun, "-n", "3", *ROOT_FLAGS, "-x", MARK, scraper, url, "--cluster", "--workers-per-rank", "1",
                "-o", "cluster.jsonl", "--stats", "cluster.json", *RULES]
        rc, _, err = run(argv, work, env)
        left = wait_gone(token, 10)
        c.ok(not left, "no process of the job is left (mpirun, ranks, fork servers, workers)",
             describe_pids(left))
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not c.ok(rc == 0, "mpirun -n 3 scraper URL --cluster exits 0", describe(rc, err)):
            return
        c.ok("page analysis on the cluster:" in err, "the summary says the analysis went to the cluster",
             describe(rc, err))

    local = read_records(os.path.join(work, "local.jsonl"))
    cluster = read_records(os.path.join(work, "cluster.jsonl"))
    c.ok(len(local) >= len(manifest["pages"]), "the local crawl fetched every page",
         f"{len(local)} records, {len(manifest['pages'])} pages in the manifest")
    c.ok(sorted(cluster) == sorted(local), "the cluster crawl fetched the same URLs",
         f"only local: {sorted(set(local) - set(cluster))[:8]}\nonly cluster: {sorted(set(cluster) - set(local))[:8]}")
    differ = [u for u in sorted(set(local) & set(cluster)) if local[u] != cluster[u]]
    detail = ""
    if differ:
        u = differ[0]
        keys = sorted(k for k in set(local[u]) | set(cluster[u]) if local[u].get(k) != cluster[u].get(k))
        detail = f"{len(differ)} records differ; first {u}, fields {keys}:\n" + "\n".join(
            f"  {k}: local {local[u].get(k)!r:.200}\n  {k}: cluster {cluster[u].get(k)!r:.200}" for k in keys)
    c.ok(not differ, "every record equals the local crawl's (all fields but ms and depth)", detail)
    with_fields = [r for r in cluster.values() if r.get("fields", {}).get("title_text") and r["fields"].get("hrefs")]
    c.ok(len(with_fields) > 300, "the --extract and --css fields came back from the serving ranks",
         f"{len(with_fields)} records with both fields")

    with open(os.path.join(work, "cluster.json"), encoding="utf-8") as f:
        stats = json.load(f)
    with open(os.path.join(work, "local.json"), encoding="utf-8") as f:
        local_stats = json.load(f)
    k = stats.get("cluster")
    if not c.ok(isinstance(k, dict), "--stats has a cluster object", json.dumps(stats)[:400]):
        return
    print(f"  cluster: {json.dumps(k)}", flush=True)
    c.ok(k["ranks"] == 2 and [r["rank"] for r in k["by_rank"]] == [1, 2], "2 serving ranks, 1 and 2", json.dumps(k))
    c.ok(stats["parsed"] == local_stats["parsed"] and k["pages"] == stats["parsed"],
         "every parsed page was analyzed on the cluster",
         f"parsed: local {local_stats['parsed']}, cluster {stats['parsed']}; pages sent {k['pages']}")
    c.ok(all(r["batches"] > 0 for r in k["by_rank"]), "each serving rank analyzed some of the batches", json.dumps(k))
    c.ok(sum(r["batches"] for r in k["by_rank"]) == k["batches"] == k["completed"] and k["failed"] == 0,
         "every batch finished on a serving rank, none failed", json.dumps(k))


def launch_checks(c, a, scraper, work):
    # Not under mpirun: a job of one rank, said at once.
    rc, _, err = run([scraper, "http://127.0.0.1:9/", "--cluster"], work, timeout=60)
    c.ok(rc == 2 and "this MPI job has 1 rank" in err and "mpirun" in err,
         "--cluster without mpirun exits 2 saying the job has one rank", describe(rc, err))
    # A usage error is rank 0's to say: once, not once per rank.
    token = uuid.uuid4().hex
    env = dict(os.environ, **{MARK: token})
    rc, _, err = run([a.mpirun, "-n", "3", *ROOT_FLAGS, "-x", MARK, scraper, "--cluster", "--max-pages", "many"],
                     work, env, timeout=60)
    c.ok(rc == 2 and err.count("Run 'scraper --help' for the options.") == 1,
         "a usage error under mpirun is printed once, exit code 2", describe(rc, err))
    left = wait_gone(token, 10)
    c.ok(not left, "no process left after the usage error", describe_pids(left))
    # mpirun without --cluster: every rank would crawl alone into one file.
    rc, _, err = run([a.mpirun, "-n", "2", *ROOT_FLAGS, scraper, "http://127.0.0.1:9/", "-o", "x.jsonl"], work,
                     timeout=60)
    c.ok(rc == 2 and err.count("started by mpirun as 2 ranks without --cluster") == 1
         and not os.path.exists(os.path.join(work, "x.jsonl")),
         "mpirun without --cluster is refused, said once, nothing written", describe(rc, err))


def without_cluster_checks(c, scraper, work):
    rc, _, err = run([scraper, "--cluster", "--quick"], work, timeout=60)
    c.ok(rc == 2 and "this scraper was built without weft::cluster (Open MPI not found at build time)" in err,
         "--cluster in a build without weft::cluster exits 2 saying so", describe(rc, err))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scraper", required=True, help="the built scraper (build/examples/scraper)")
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--without-cluster", action="store_true", help="the scraper was built without weft::cluster")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory and say where")
    a = ap.parse_args(argv)
    scraper = os.path.abspath(a.scraper)
    if not os.access(scraper, os.X_OK):
        print(f"skipped: the scraper is not built in this build folder: {scraper} "
              "(cmake --build build --target scraper)")
        return SKIPPED

    c = Checks()
    work = tempfile.mkdtemp(prefix="weft-scraper-cluster-")
    try:
        if a.without_cluster:
            without_cluster_checks(c, scraper, work)
        else:
            cluster_checks(c, a, scraper, work)
            launch_checks(c, a, scraper, work)
    finally:
        if a.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{c.passed} checks passed, {len(c.failed)} failed" + (f": {', '.join(c.failed)}" if c.failed else ""))
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
