#!/usr/bin/env python3
"""Whole-job checks of weft::cluster, from outside the MPI job.

rank_loss: a serving rank killed with SIGKILL mid-run ends the job: mpirun
  exits non-zero within 15 s, its message names the rank and the host, and
  no process of the job is left (checked in the process table: no process
  runs the helper's executable, no mpirun/orted child remains).
mismatch: a job whose ranks run different binaries (the helper and its
  variant with one more WEFT_REMOTE function) is refused at start-up with a
  message naming the mismatched rank and its host.
"""
import argparse
import os
import signal
import subprocess
import sys
import time

# Shared memory between the ranks, as the other cluster tests: Open MPI's
# TCP transport takes its locks in an order TSan reports (inside MPI_Init,
# not weft's code), which would fail these tests in the TSan build.
ROOT_FLAGS = ["--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader"]


def processes_running(exe):
    """pids whose executable is exe (the ranks, their fork servers and workers)."""
    real = os.path.realpath(exe)
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.path.realpath(os.readlink(f"/proc/{pid}/exe")) == real:
                found.append(int(pid))
        except OSError:
            pass
    return found


def wait_gone(exe, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        left = processes_running(exe)
        if not left:
            return []
        time.sleep(0.1)
    return processes_running(exe)


def rank_loss(args):
    cmd = [args.mpirun, "-n", "4", *ROOT_FLAGS, args.helper]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids, host, out = {}, {}, []
    victim = 2
    start = time.monotonic()
    for line in proc.stdout:
        out.append(line)
        parts = line.split()
        if len(parts) == 6 and parts[0] == "rank" and parts[2] == "pid":
            pids[int(parts[1])] = int(parts[3])
            host[int(parts[1])] = parts[5]
        if line.startswith("working"):
            break
        if time.monotonic() - start > 60:
            break
    if victim not in pids:
        proc.kill()
        sys.exit("FAIL: the helper did not report its ranks:\n" + "".join(out))
    os.kill(pids[victim], signal.SIGKILL)
    killed_at = time.monotonic()
    try:
        rest, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        sys.exit("FAIL: the job did not end within 15 s of losing rank %d" % victim)
    took = time.monotonic() - killed_at
    text = "".join(out) + rest
    print(text)
    print(f"job ended {took:.2f} s after rank {victim} was killed, exit code {proc.returncode}")
    failures = []
    if proc.returncode == 0:
        failures.append("mpirun exited 0")
    if f"rank {victim}" not in text or host[victim] not in text.split(f"rank {victim}", 1)[1][:400]:
        failures.append(f"no message naming rank {victim} and host {host[victim]}")
    left = wait_gone(args.helper, 5)
    if left:
        failures.append(f"processes left behind: {left}")
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    if failures:
        sys.exit("FAIL: " + "; ".join(failures))
    print("ok: no process of the job left")


def mismatch(args):
    cmd = [args.mpirun, *ROOT_FLAGS, "-n", "1", args.helper, ":", "-n", "1", args.other]
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        sys.exit("FAIL: a mismatched job was not refused within 60 s")
    print(done.stdout)
    failures = []
    if done.returncode == 0:
        failures.append("mpirun exited 0")
    if "rank 1 on host" not in done.stdout or "does not run the same program" not in done.stdout:
        failures.append("no message naming rank 1 and its host")
    if "working" in done.stdout:
        failures.append("the job ran tasks")
    left = wait_gone(args.helper, 5) + wait_gone(args.other, 5)
    if left:
        failures.append(f"processes left behind: {left}")
    if failures:
        sys.exit("FAIL: " + "; ".join(failures))
    print("ok: refused")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("check", choices=["rank_loss", "mismatch"])
    p.add_argument("--mpirun", default="mpirun")
    p.add_argument("--helper", required=True)
    p.add_argument("--other", required=True)
    args = p.parse_args()
    {"rank_loss": rank_loss, "mismatch": mismatch}[args.check](args)


if __name__ == "__main__":
    main()
