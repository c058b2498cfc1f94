#!/usr/bin/env python3
"""Runs the built scraper with --state against a generated 5,000-page site,
killing it again and again, and checks that the crawl resumes to exactly
the records of an uninterrupted crawl.

    python3 examples/scraper/tests/scraper_resume_test.py --scraper build/examples/scraper \
        [--server nginx|python] [--seed N] [--keep]

The site is make_site.py's, made bigger (50 sections of 99 pages: about
5,000 pages, plus its robots.txt, redirect, 404 and files that are not
HTML), served on 127.0.0.1 by nginx (or python3 -m http.server), started
here and stopped by its pid.

1. An uninterrupted crawl (no --state): the truth.
2. `scraper URL --state crawl.db -o out.jsonl`, killed with SIGKILL at five
   random moments (when out.jsonl has grown to a random point of the
   crawl; a random seed, printed, makes a failure repeatable),
   then stopped once with SIGTERM (exit 143) and once with SIGINT (exit
   130), each time started again with the same command line, and finally
   run to its end (exit 0).
3. out.jsonl then holds only whole JSON lines, every URL exactly once (the
   output is cut back to the state's last commit on resume, so even the
   URLs in flight at a kill appear once), the same URLs reached, and the
   same records as the truth (url, status, error, final_url, title, links,
   content_type; records of a redirect and its target are compared by the
   URLs reached only, since which of the two is fetched first varies).
4. The same command once more fetches nothing and leaves out.jsonl as it is;
   other options with the same state file, or --state without --output,
   are usage errors (exit 2) naming --state.

Exit status 0 when every check passed, 1 otherwise.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(HERE, "..", "..", "..", "tests", "examples"))
import make_site  # noqa: E402
import webservers  # noqa: E402

RUN_TIMEOUT = 60  # seconds for one scraper run
KILLS = 5
FIELDS = ("url", "status", "error", "final_url", "title", "links", "content_type")

failures = []


def check(cond, what, detail=""):
    if not cond:
        failures.append(what)
        print(f"FAIL {what}" + (f"\n     {detail}" if detail else ""), flush=True)
    return cond


def records_of(path, what):
    """The JSON records of path; every line must be whole JSON."""
    with open(path, "rb") as f:
        data = f.read()
    check(data == b"" or data.endswith(b"\n"), f"{what}: ends on a whole line", repr(data[-80:]))
    out = []
    for n, line in enumerate(data.split(b"\n")[:-1], 1):
        try:
            out.append(json.loads(line))
        except ValueError as e:
            check(False, f"{what}: line {n} is JSON", f"{e}: {line[:200]!r}")
    return out


def key(r):
    return tuple(json.dumps(r.get(f), sort_keys=True) for f in FIELDS)


def run(argv, cwd, timeout=RUN_TIMEOUT):
    p = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def interrupted_run(argv, cwd, sig, out, size):
    """Starts argv, sends sig (by its pid) once out has grown to `size`
    bytes (unless it ended first), waits for it."""
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + RUN_TIMEOUT
    ended_first = False
    while True:
        if proc.poll() is not None:
            ended_first = True
            break
        try:
            grown = os.path.getsize(out) >= size
        except OSError:
            grown = False
        if grown or time.monotonic() > deadline:
            os.kill(proc.pid, sig)
            break
        time.sleep(0.002)
    try:
        _, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    return proc.returncode, ended_first, err.decode("utf-8", "replace")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scraper", required=True, help="the built scraper (build/examples/scraper)")
    ap.add_argument("--server", choices=["python", "nginx"], default="nginx")
    ap.add_argument("--seed", type=int, help="for the stop points (default: random, printed)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory and say where")
    a = ap.parse_args(argv)
    scraper = os.path.abspath(a.scraper)
    if not os.access(scraper, os.X_OK):
        print(f"scraper not found or not executable: {scraper} (build it: cmake --build build --target scraper)")
        return 1
    if a.server == "nginx" and not os.access(webservers.NGINX, os.X_OK):
        print(f"FAIL: nginx not found: run ./scripts/setup.sh (looked for {webservers.NGINX})")
        return 1
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rnd = random.Random(seed)
    print(f"stop points from seed {seed} (--seed {seed} repeats them)", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = tempfile.mkdtemp(prefix="weft-scraper-resume-")
    os.chmod(work, 0o755)
    t0 = time.monotonic()
    try:
        site = os.path.join(work, "site")
        os.makedirs(site)
        os.chmod(site, 0o755)
        with webservers.start(a.server, site) as server:
            make_site.SECTIONS, make_site.PAGES_PER_SECTION = 50, 99
            manifest = make_site.generate(site, server.base_url)
            print(f"{server.kind} on {server.base_url} (pid {server.pid}): {len(manifest['pages'])} pages", flush=True)
            url = server.base_url + "/"
            common = [url, "--quiet", "--concurrency", "16"]

            t = time.monotonic()
            rc, err = run([scraper] + common + ["-o", "truth.jsonl"], work)
            truth_s = time.monotonic() - t
            check(rc == 0, "the uninterrupted crawl exits 0", err[-500:])
            truth = records_of(os.path.join(work, "truth.jsonl"), "truth.jsonl")
            check(len(truth) >= 5000, "the uninterrupted crawl records the 5,000 pages", f"{len(truth)} records")
            print(f"uninterrupted crawl: {len(truth)} records in {truth_s:.1f} s", flush=True)

            cmd = [scraper] + common + ["--state", "crawl.db", "-o", "out.jsonl"]
            out = os.path.join(work, "out.jsonl")
            stops = [(signal.SIGKILL, -9)] * KILLS + [(signal.SIGTERM, 143), (signal.SIGINT, 130)]
            # Each stop once the output has grown to a random point of the
            # crawl, in order: the kills fall all along it, on a fast machine
            # as on a slow one.
            total = os.path.getsize(os.path.join(work, "truth.jsonl"))
            points = sorted(rnd.uniform(0.03, 0.9) for _ in stops)
            for n, ((sig, want_rc), point) in enumerate(zip(stops, points), 1):
                # Past what the last run left too: the stop then comes once
                # this run writes records, never before it handles signals.
                start = os.path.getsize(out) if os.path.exists(out) else 0
                rc, ended_first, err = interrupted_run(cmd, work, sig, out, max(int(point * total), start + 1))
                lines = sum(1 for _ in open(out, "rb")) if os.path.exists(out) else 0
                name = signal.Signals(sig).name
                print(f"run {n}: {name} at {point:.0%} of the output: exit {rc}, {lines} lines in out.jsonl"
                      + (" (it had ended)" if ended_first else ""), flush=True)
                if not ended_first:
                    check(rc == want_rc, f"run {n}: {name} ends the scraper with exit {want_rc}", err[-500:])
                else:
                    check(rc == 0, f"run {n}: ended by itself with exit 0", err[-500:])
            rc, err = run(cmd, work)
            check(rc == 0, "the last run finishes with exit 0", err[-500:])

            got = records_of(out, "out.jsonl")
            seen = {}
            for r in got:
                seen[r["url"]] = seen.get(r["url"], 0) + 1
            twice = sorted(u for u, n in seen.items() if n > 1)
            check(not twice, "every URL recorded exactly once over all runs", f"{len(twice)} twice: {twice[:5]}")
            # A redirect's target is recorded by itself only if fetched
            # before the redirect reached it (the redirect's record says
            # "duplicate" then): that order differs between any two crawls,
            # so those records are compared by the URLs they reached.
            targets = {r["final_url"] for r in truth + got if r.get("final_url") not in (None, r["url"])}

            def reached(records):
                return {u for r in records for u in (r["url"], r.get("final_url")) if u}

            check(reached(truth) == reached(got), "all runs together reach the uninterrupted crawl's URLs",
                  f"missing {sorted(reached(truth) - reached(got))[:5]}, "
                  f"unexpected {sorted(reached(got) - reached(truth))[:5]}")
            def plain(r):
                return r["url"] not in targets and r.get("final_url") not in targets

            want = {key(r) for r in truth if plain(r)}
            have = {key(r) for r in got if plain(r)}
            check(want == have, "the records of all runs equal the uninterrupted crawl's",
                  f"missing {len(want - have)}: {sorted(want - have)[:3]}\nunexpected {len(have - want)}: "
                  f"{sorted(have - want)[:3]}")
            print(f"resumed crawl: {len(got)} records, {len(seen)} URLs", flush=True)

            size = os.path.getsize(out)
            rc, err = run([scraper, url, "--concurrency", "16", "--state", "crawl.db", "-o", "out.jsonl"], work)
            check(rc == 0 and os.path.getsize(out) == size and "0 pages" in err,
                  "a finished crawl run again fetches nothing and keeps out.jsonl",
                  f"exit {rc}, {size} -> {os.path.getsize(out)} bytes\n{err[-300:]}")
            rc, err = run([scraper, url, "--max-depth", "1", "--state", "crawl.db", "-o", "out.jsonl"], work)
            check(rc == 2 and "--state" in err and "max_depth" in err,
                  "other options with the same state file: exit 2 naming --state and the option", f"exit {rc}: {err}")
            check(os.path.getsize(out) == size, "a refused --state leaves out.jsonl alone")
            rc, err = run([scraper, url, "--state", "other.db"], work)
            check(rc == 2 and "--state" in err and "--output" in err, "--state without --output: exit 2 naming both",
                  f"exit {rc}: {err}")
    finally:
        if a.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{'FAILED' if failures else 'passed'} in {time.monotonic() - t0:.1f} s"
          + (f": {len(failures)} checks failed" if failures else ""), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
