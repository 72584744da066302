#!/usr/bin/python3
"""Runs the libFuzzer targets and reports what they did (make fuzz).

  fuzz.py run [--seconds S] [--runs N] [--keep-going] NAME DIR -- FUZZER [ARGS...]
      Runs FUZZER ARGS in DIR for S seconds (or N executions, whichever comes
      first), with a per-input timeout, and keeps its whole output in DIR/fuzz.log.
      Reads libFuzzer's closing "Done N runs in S second(s)" line and the crash
      artifacts it wrote (crash-*, leak-*, timeout-*, oom-*), prints one line, and
      writes DIR/result.json. Exits 1 if the fuzzer crashed, unless --keep-going
      (then only the report fails).
  fuzz.py report BUILD_FUZZ_DIR NAME...
      Prints one table of every NAME's result (target, seconds, executions,
      exec/s, crashes) and exits 1 if any crashed or has no result.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

TIMEOUT = 10  # seconds for one input: a slower one is a hang, reported as a crash
DONE = re.compile(r"^Done (\d+) runs in (\d+) second")
ARTIFACT = re.compile(r"Test unit written to (\S+)")


def run(args):
    os.makedirs(args.dir, exist_ok=True)
    result_path = os.path.join(args.dir, "result.json")
    if os.path.exists(result_path):
        os.remove(result_path)
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    cmd = cmd + ["-max_total_time=%d" % args.seconds, "-timeout=%d" % TIMEOUT]
    if args.runs:
        cmd.append("-runs=%d" % args.runs)
    log_path = os.path.join(args.dir, "fuzz.log")
    start = time.monotonic()
    with open(log_path, "w") as log:
        log.write("$ %s\n" % " ".join(cmd))
        log.flush()
        rc = subprocess.call(cmd, cwd=args.dir, stdout=log, stderr=subprocess.STDOUT)
    wall = time.monotonic() - start
    with open(log_path, errors="replace") as f:
        text = f.read()
    runs = seconds = None
    for line in text.splitlines():
        m = DONE.match(line)
        if m:
            runs, seconds = int(m.group(1)), int(m.group(2))
    artifacts = ARTIFACT.findall(text)
    crashes = len(artifacts) or (1 if rc != 0 or runs is None else 0)
    res = {
        "target": args.name,
        "seconds": seconds if seconds is not None else round(wall),
        "executions": runs or 0,
        "crashes": crashes,
        "exit": rc,
        "artifacts": [os.path.join(args.dir, a) for a in artifacts],
        "log": log_path,
    }
    res["exec_per_s"] = res["executions"] // res["seconds"] if res["seconds"] else res["executions"]
    with open(result_path, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print("fuzz %s: %d executions in %d s (%d/s), %d crash%s" %
          (args.name, res["executions"], res["seconds"], res["exec_per_s"], crashes, "" if crashes == 1 else "es"))
    if crashes:
        print("\n".join(text.splitlines()[-40:]))
        print("fuzz %s: CRASHED (exit %d); whole log in %s; input%s: %s" %
              (args.name, rc, log_path, "" if len(artifacts) == 1 else "s", " ".join(res["artifacts"]) or "none"))
        return 0 if args.keep_going else 1
    return 0


def report(args):
    rows, bad = [], []
    for name in args.names:
        path = os.path.join(args.dir, name, "result.json")
        try:
            with open(path) as f:
                res = json.load(f)
        except (OSError, ValueError):
            res = None
        if res is None:
            bad.append("%s: no result (%s)" % (name, path))
            rows.append((name, "-", "-", "-", "-"))
            continue
        if res["crashes"]:
            bad.append("%s: %d crash(es), log %s, input(s) %s" %
                       (name, res["crashes"], res["log"], " ".join(res["artifacts"]) or "none"))
        rows.append((name, str(res["seconds"]), "{:,}".format(res["executions"]),
                     "{:,}".format(res["exec_per_s"]), str(res["crashes"])))
    head = ("target", "seconds", "executions", "exec/s", "crashes")
    width = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(width[i]) if i == 0 else c.rjust(width[i]) for i, c in enumerate(r))
    print(line(head))
    for r in rows:
        print(line(r))
    total = sum(int(r[2].replace(",", "")) for r in rows if r[2] != "-")
    print("fuzz: %d targets, {:,} executions in all, %s".format(total) %
          (len(rows), "%d failed" % len(bad) if bad else "no crashes"))
    for b in bad:
        print("fuzz: " + b)
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run")
    r.add_argument("--seconds", type=int, default=60)
    r.add_argument("--runs", type=int, default=0)
    r.add_argument("--keep-going", action="store_true")
    r.add_argument("name")
    r.add_argument("dir")
    r.add_argument("cmd", nargs=argparse.REMAINDER)
    t = sub.add_parser("report")
    t.add_argument("dir")
    t.add_argument("names", nargs="+")
    args = p.parse_args()
    return run(args) if args.what == "run" else report(args)


if __name__ == "__main__":
    sys.exit(main())
