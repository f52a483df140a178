#!/usr/bin/env python3
"""bench/paired_time.py -- times two commands in alternating pairs.

    paired_time.py RUNS PREPARE CMD_A CMD_B

Runs each command once untimed (warm-up), then RUNS pairs: A then B, the
next pair B then A, and so on, with PREPARE (a shell command, e.g. drop
the page cache) before every timed run.  Alternating keeps slow drifts of
a shared machine (another tenant's I/O, write-back of earlier runs) from
landing on one tool only, and each pair's ratio B/A compares two runs
made under nearly the same conditions.

Prints one line of seconds and ratios:

    A_MEAN A_SD A_CPU A_MIN B_MEAN B_SD B_CPU B_MIN MEAN_RATIO MEDIAN_RATIO MIN_RATIO

where CPU is the mean user + system time of the command (wait4 rusage),
MEAN_RATIO is B_MEAN / A_MEAN, MEDIAN_RATIO the median of the pairs'
B / A, and MIN_RATIO is B_MIN / A_MIN.  Prints "failed" when a command
exits non-zero.
"""
import os
import statistics
import subprocess
import sys
import time


def run_timed(cmd):
    """Wall and CPU seconds of one run of a shell command, or None."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        return None
    return wall, usage.ru_utime + usage.ru_stime


def prepare(cmd):
    subprocess.run(cmd, shell=True, check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def summary(runs):
    walls = [w for w, _ in runs]
    sd = statistics.stdev(walls) if len(walls) > 1 else 0.0
    cpu = statistics.mean(c for _, c in runs)
    return statistics.mean(walls), sd, cpu, min(walls)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    n, prep, cmd_a, cmd_b = int(sys.argv[1]), sys.argv[2], sys.argv[3], \
        sys.argv[4]
    for cmd in (cmd_a, cmd_b):
        prepare(prep)
        if run_timed(cmd) is None:
            print("failed")
            return
    a_runs, b_runs = [], []
    for i in range(n):
        order = ((cmd_a, a_runs), (cmd_b, b_runs))
        for cmd, out in order if i % 2 == 0 else reversed(order):
            prepare(prep)
            t = run_timed(cmd)
            if t is None:
                print("failed")
                return
            out.append(t)
    a, b = summary(a_runs), summary(b_runs)
    ratios = [tb[0] / ta[0] for ta, tb in zip(a_runs, b_runs)]
    print(" ".join("%.3f" % x for x in a + b),
          "%.2f %.2f %.2f" % (b[0] / a[0], statistics.median(ratios),
                              b[3] / a[3]))


if __name__ == "__main__":
    main()
