"""Hostile neighbours on the virtual switch (issue 15), on both backends (IDs
end in [svm] or [vmx]); each test boots its own machine, the shell keeping CPU 0.

test_abuser_beside_healthy_pair (pc-7cpu):
  tx      net-send to rx, VLAN 10, 1000-byte frames shaped to 8 Mbit/s (wc off)
  rx      net-recv, VLAN 10
  abuser  abuse, 2 vCPUs, VLAN 10, shaped to 2 Mbit/s (wc off): randomised,
          seeded abuse of its NIC (bad descriptors and chains, rings at odd
          addresses, resets mid-flight, BAR, MSI-X and configuration writes,
          oversized frames), ports, MSRs, APIC page and hypercalls, both vCPUs
          racing on the one NIC (guest/abuse.c). Its rate is shaped like any
          tenant's, so what is measured is what its rule-breaking costs the
          others, not its bandwidth.
The pair runs alone first (its baseline rate), then beside the abuser, for
WINDOW_S seconds each, under the same polling (`parts`, `net` and the
receiver's console every POLL_S seconds). The seed is the test's (printed;
ISTHMUS_ABUSE_SEED=N replays it).

test_dead_receiver_beside_broadcast (pc-4cpu):
  bcast   net-send to ff:ff:ff:ff:ff:ff, VLAN 20, 1000-byte frames shaped to 8 Mbit/s
  live    net-recv, VLAN 20
  dead    net-recv stall_ms=3000: stops giving buffers back 3 s after its first
          frame, then halts
"""
import os
import random
import re
import time

import pexpect
import pytest

from conftest import BACKENDS, backend_boot, line_with, make_esp
from test_net import counter, port_block, rx_lines
from test_partitions import console, parts, wait_for

FRAME = 1000
RATE_BITS = 8000000           # the healthy senders' committed (= peak) rate
BUCKET = "512K"               # their bursts: half a second of it, to ride out the host's hiccups under TCG
ABUSER_BITS = 2000000
WINDOW_S = 30                 # each measuring window (the pair alone, then beside the abuser)
DEAD_S = 15                   # the window after the dead receiver stalled
SETTLE_S = 3                  # a window starts this long after what it follows
POLL_S = 5                    # the shell and the receiver's console are read this often in every window
SHELL_S = 20                  # the shell must answer within this
KEEP = 0.95                   # of the rate the healthy receiver must keep
MAC = {"tx": "02:15:7e:00:00:01", "rx": "02:15:7e:00:00:02", "abuser": "02:15:7e:00:00:66",
       "bcast": "02:15:7e:00:00:21", "live": "02:15:7e:00:00:22", "dead": "02:15:7e:00:00:23"}


def nic(name, vlan, bits=None, bucket="128K"):
    shaped = (f'cir = "{bits}"\npir = "{bits}"\ncbs = "{bucket}"\npbs = "{bucket}"\nwc = false\n' if bits else "")
    return f'nic = true\nmac = "{MAC[name]}"\nvlan = {vlan}\n{shaped}'


def part(name, cpus, cmdline, net, state=""):
    return (f'\n[[partition]]\nname = "{name}"\ncpus = {cpus}\nmemory = "16M"\nkernel = "testguest.elf"\n'
            f'cmdline = "{cmdline}"\n{state}{net}')


def pair_config(seed):
    return ('[hypervisor]\nlog_level = "info"\n\n[network]\nmac_age = 300\n'
            + part("tx", [1], f"net-send count=1000000000 size={FRAME} dst={MAC['rx']} tick_ms=1000",
                   nic("tx", 10, RATE_BITS, BUCKET), 'state = "stopped"\n')
            + part("rx", [2], "net-recv count=1000000000 tick_ms=500", nic("rx", 10))
            + part("abuser", [3, 4], f"abuse seed={seed} dst={MAC['rx']} tick_ms=1000",
                   nic("abuser", 10, ABUSER_BITS), 'state = "stopped"\n'))


DEAD_CONFIG = ('[hypervisor]\nlog_level = "info"\n\n[network]\nmac_age = 300\n'
               + part("bcast", [1], f"net-send count=1000000000 size={FRAME} dst=ff:ff:ff:ff:ff:ff tick_ms=1000",
                      nic("bcast", 20, RATE_BITS, BUCKET), 'state = "stopped"\n')
               + part("live", [2], "net-recv count=1000000000 tick_ms=500", nic("live", 20))
               + part("dead", [3], "net-recv count=1000000000 tick_ms=500 stall_ms=3000", nic("dead", 20)))


class Receiver:
    """A net-recv partition's rx lines, gathered across console reads (its
    console ring holds about 80 s of them)."""

    def __init__(self, hv, name):
        self.hv, self.name, self.lines = hv, name, {}

    def read(self):
        for l in rx_lines(console(self.hv, self.name)):
            self.lines[l["ms"]] = l
        return self.last()

    def last(self):
        return self.lines[max(self.lines)] if self.lines else None

    def rate(self, start_ms, end_ms=None):
        """Bytes per second between the first line at or after start_ms and
        the last one at or before end_ms; with the two lines. Says how
        steady it was: the longest gap between lines (the guest did not run)
        and the slowest line-to-line rate."""
        w = [self.lines[k] for k in sorted(self.lines) if k >= start_ms and (end_ms is None or k <= end_ms)]
        assert len(w) >= 2, (self.name, start_ms, end_ms, sorted(self.lines)[-5:])
        gap = max(b["ms"] - a["ms"] for a, b in zip(w, w[1:]))
        low = min((b["bytes"] - a["bytes"]) * 1000.0 / (b["ms"] - a["ms"]) for a, b in zip(w, w[1:]))
        print(f"{self.name}: {len(w)} lines, longest gap {gap} ms, slowest {low:.0f} B/s between two of them")
        return (w[-1]["bytes"] - w[0]["bytes"]) * 1000.0 / (w[-1]["ms"] - w[0]["ms"]), w[0], w[-1]

    def window(self, seconds, why):
        """Reads the console and asks the shell for `parts` and `net` every
        POLL_S seconds for `seconds` (the same load on the machine in every
        window); returns the guest time of the first line read and the
        slowest shell answers."""
        start, slowest = self.read()["ms"], {}
        end = time.time() + seconds
        while True:
            for c in ("parts", "net"):
                _, took = timed(self.hv, c, why)
                slowest[c] = max(slowest.get(c, 0), took)
            self.read()
            if time.time() >= end:
                return start, slowest
            time.sleep(min(POLL_S, max(0, end - time.time())))


def timed(hv, line, why):
    """Runs a shell command, failing the test if it takes over SHELL_S seconds."""
    t = time.time()
    try:
        out = hv.cmd(line, timeout=SHELL_S)
    except pexpect.TIMEOUT:
        pytest.fail(f"{why}: the shell did not answer '{line}' within {SHELL_S} s")
    return out, time.time() - t


def abuse_seed():
    env = os.environ.get("ISTHMUS_ABUSE_SEED")
    return int(env, 0) if env else random.SystemRandom().randrange(1, 1 << 31)


@pytest.mark.parametrize("backend", BACKENDS)
def test_abuser_beside_healthy_pair(backend, request, tmp_path):
    """The healthy pair loses, corrupts and reorders nothing and keeps 95% of
    its rate beside a partition abusing its NIC, ports, MSRs, APIC page, PCI
    configuration and hypercalls on two racing vCPUs; the shell answers
    throughout; if anyone is failed, it is the abuser alone, for a reason."""
    seed = abuse_seed()
    replay = f"abuse seed {seed} (ISTHMUS_ABUSE_SEED={seed} replays it)"
    print(replay)
    hv = backend_boot(backend, request.node.name, make_esp(pair_config(seed), str(tmp_path)), profile="pc-7cpu")
    try:
        hv.wait_prompt()
        rx = Receiver(hv, "rx")
        wait_for(hv, "rx", r"^tg: net: up mac=%s" % MAC["rx"], timeout=120)
        hv.cmd("part start tx")
        first = None
        deadline = time.time() + 120
        while not first:
            assert time.time() < deadline, "rx received nothing from tx"
            l = rx.read()
            first = l if l and l["frames"] else None
            time.sleep(1)
        # The pair alone (after its first burst): its baseline.
        time.sleep(SETTLE_S)
        start, _ = rx.window(WINDOW_S, "the pair alone")
        base, b0, b1 = rx.rate(start)
        want = RATE_BITS / 8
        print(f"the pair alone: {base:.0f} B/s over {b1['ms'] - b0['ms']} ms ({100 * base / want:.1f}% of the "
              f"configured {want:.0f} B/s)")

        # The abuser joins.
        out = hv.cmd("part start abuser")
        assert line_with(out, "part:", "abuser", "running"), out
        text, _ = wait_for(hv, "abuser", r"^tg: abuse: \d+ ops ", timeout=120)
        assert re.search(r"^tg: abuse: seed %d$" % seed, text, re.M), (replay, text)
        assert re.search(r"^tg: abuse: 2 vCPU\(s\) racing", text, re.M), (replay, text)
        abuse_wall = time.time()
        time.sleep(SETTLE_S)
        start, slowest = rx.window(WINDOW_S, f"during the abuse ({replay})")
        rate, a0, a1 = rx.rate(start)
        print(f"beside the abuser: {rate:.0f} B/s over {a1['ms'] - a0['ms']} ms ({100 * rate / base:.1f}% of the "
              f"pair alone); slowest shell answers: {', '.join(f'{c} {t:.1f} s' for c, t in slowest.items())}")

        # After: the shell, the states, what the abuser did.
        (_, t1), (net_out, t2) = timed(hv, "parts", "after"), timed(hv, "net", "after")
        abuse_s = time.time() - abuse_wall
        print(f"after: parts {t1:.1f} s, net {t2:.1f} s")
        rows, _ = parts(hv)
        text = console(hv, "abuser")
        progress = re.findall(r"^tg: abuse: (\d+) ops \(vcpu0=(\d+) vcpu1=(\d+) \)", text, re.M)
        summary = re.findall(r"^tg: abuse: summary .*$", text, re.M)
        print("abuser:", progress[-1] if progress else "no progress line;", summary[-1] if summary else "")
        abuser_port = port_block(net_out, "abuser")
        for name in ("tx", "rx", "abuser"):
            print(f"{name}'s port:", port_block(net_out, name).strip().replace("\n", " |"))
        print(hv.cmd("net mac").strip())
        with open(hv.logpath, encoding="utf-8", errors="replace") as f:
            logged = len(re.findall(r"\] (?:ERROR|WARN|INFO) +\S+ +abuser\b", f.read()))
        print(f"log lines naming the abuser on the console: {logged} in {abuse_s:.0f} s")

        problems = []
        last = rx.last()
        if last["lost"] or last["bad"] or last["reordered"]:
            problems.append(f"rx: lost={last['lost']} bad={last['bad']} reordered={last['reordered']} "
                            f"of {last['frames']} frames (other={last['other']})")
        if rate < KEEP * min(base, want):
            problems.append(f"rx: {rate:.0f} B/s beside the abuser, {100 * rate / base:.1f}% of the "
                            f"{base:.0f} B/s alone (configured {want:.0f} B/s)")
        for name in ("tx", "rx"):
            if rows[name]["state"] != "running":
                problems.append(f"{name} is {rows[name]['state']}: {rows[name].get('reason')}")
        if rows["abuser"]["state"] == "failed":
            reason = rows["abuser"].get("reason", "")
            print(f"the abuser was failed: {reason}")
            if not reason or not line_with(hv.cmd("log error"), "abuser", "failed"):
                problems.append(f"the abuser was failed without a reason in parts and the log: {reason!r}")
        elif rows["abuser"]["state"] != "running":
            problems.append(f"the abuser is {rows['abuser']['state']}")
        else:
            # It did abuse, on both vCPUs, and its NIC saw it.
            if not (progress and int(progress[-1][1]) and int(progress[-1][2])):
                problems.append(f"the abuser did not run on both vCPUs: {progress[-1:]}")
            if not (counter(abuser_port, "bad-chain") and counter(abuser_port, "needs-reset")):
                problems.append(f"the abuser's NIC saw no bad chains or resets: {abuser_port}")
        assert not problems, "\n".join([replay] + problems)
    finally:
        hv.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_dead_receiver_beside_broadcast(backend, request, tmp_path):
    """A receiver that stops giving its buffers back does not slow a broadcast
    sender down for the others: once it is stalled it gives no congestion
    feedback at all, the sender is cut only when the live receiver itself is
    congested, and the live receiver loses nothing and gets 95% of the
    sender's configured rate unless its own guest fell behind (congested, its
    ring full: the emulator starved it), when what it misses is what its own
    port counted as rx-full."""
    hv = backend_boot(backend, request.node.name, make_esp(DEAD_CONFIG, str(tmp_path)), profile="pc-4cpu")
    try:
        hv.wait_prompt()
        live = Receiver(hv, "live")
        for name in ("live", "dead"):
            wait_for(hv, name, r"^tg: net: up mac=%s" % MAC[name], timeout=120)
        hv.cmd("part start bcast")
        _, m = wait_for(hv, "dead", r"^tg: net: rx stalling frames=(\d+) .* ms=(\d+)", timeout=180)
        print(f"dead stopped giving buffers back after {m[1]} frames")
        # The stall costs the sender one wait (1 s of the dead guest's CPU
        # time: longer in wall time under Bochs), then the window.
        deadline = time.time() + 120
        while "(stalled" not in port_block(hv.cmd("net"), "dead"):
            assert time.time() < deadline, "dead was never marked stalled: " + port_block(hv.cmd("net"), "dead")
            time.sleep(1)
        time.sleep(SETTLE_S)
        net_out = hv.cmd("net")
        blk0, dead0, live0 = (port_block(net_out, n) for n in ("bcast", "dead", "live"))
        start, slowest = live.window(DEAD_S, "beside the dead receiver")
        net_out = hv.cmd("net")
        blk1, dead_blk, live1 = (port_block(net_out, n) for n in ("bcast", "dead", "live"))
        rate, w0, w1 = live.rate(start)
        want = RATE_BITS / 8
        print(f"live after the stall: {rate:.0f} B/s over {w1['ms'] - w0['ms']} ms ({100 * rate / want:.1f}% of the "
              f"configured {want:.0f} B/s)")
        print("bcast:", blk1.strip().replace("\n", " |"))
        print("dead:", dead_blk.strip().replace("\n", " |"))

        problems = []
        last = live.last()
        # A flood copy for a live receiver whose ring is full is dropped and
        # counted there (rx-full: a flood never waits for one receiver), so
        # live may miss frames only when its own guest fell behind, and no
        # more than its port counted.
        live_full = counter(live1, "rx-full")
        print(f"live: lost {last['lost']}, its port's rx-full {live_full}")
        if last["bad"] or last["reordered"] or last["lost"] > live_full:
            problems.append(f"live: lost={last['lost']} (its port dropped {live_full} as rx-full) bad={last['bad']} "
                            f"reordered={last['reordered']} of {last['frames']} frames")
        if "stalled" not in dead_blk or counter(dead_blk, "rx-stalled") <= counter(dead0, "rx-stalled"):
            problems.append(f"dead: not stalled, or no frames dropped as rx-stalled in the window: {dead_blk}")
        if counter(dead_blk, "congestion") != counter(dead0, "congestion"):
            problems.append(f"dead: gave congestion feedback while stalled: congestion={counter(dead0, 'congestion')} "
                            f"at the window's start, {counter(dead_blk, 'congestion')} at its end")
        # The live receiver's own congestion (its guest starved by the
        # emulator on a loaded host) may cut the sender; nothing else may.
        live_congested = counter(live1, "congestion") - counter(live0, "congestion")
        print(f"live's own congestion in the window: {live_congested}")
        if rate < KEEP * want and not live_congested:
            problems.append(f"live: {rate:.0f} B/s after the stall, {100 * rate / want:.1f}% of the configured "
                            f"{want:.0f} B/s, though never congested itself")
        cut = re.search(r"cut to [\d.]+% by congestion", blk1)
        if (cut or counter(blk1, "cuts") != counter(blk0, "cuts")) and not live_congested:
            problems.append(f"bcast: {cut[0] if cut else 'not cut now'}, cuts={counter(blk0, 'cuts')} at the "
                            f"window's start, {counter(blk1, 'cuts')} at its end, though live was never congested")
        assert not problems, "\n".join(problems)
    finally:
        hv.close()
