"""Heartbeat failover on both backends: the master in the hypervisor, the test
guest's agent (the `ha` scenario), hot and cold standby, manual switchover,
and a request/reply flow to each service's MAC that must resume on the new
primary (the `ha-client` scenario measures the gap).

Hot boot (pc-8cpu, the shell on CPU 0), three groups of two and a client, all
on VLAN 10; each primary fails a few seconds after it became primary:
  svc-stop   stop-a  (agent stops beating, the service goes on) / stop-b; mode hot
  svc-hang   hang-a  (interrupts off, busy loop)                 / hang-b
  svc-crash  crash-a (triple fault)                              / crash-b
  client     requests to the three service MACs every 2 ms
Cold boot (pc-4cpu):
  svc-cold     cold-a crashes; mode cold: the group's standby image is booted
               on cold-a's own CPUs and memory
  svc-restart  restart-a powers itself off (ACPI S5); no standby, no standby
               image: restarted
  client       requests to both
  off          in no group: powers off, and is simply stopped
"""
import re
import time

import pytest

from conftest import backend_module_boot, fact_line, line_with, partition_toml
from test_partitions import console, parts, wait_for, wait_state

INTERVAL_MS = 100
MISSES = 5
SVC = ["02:15:7e:ff:00:01", "02:15:7e:ff:00:02", "02:15:7e:ff:00:03"]


def partition(name, cpu, cmdline, state="running"):
    return partition_toml(name, cpu, cmdline, f'state = "{state}"\nnic = true\nvlan = 10\n')


def group(name, primary, standby=None, extra=""):
    s = f'standby = "{standby}"\n' if standby else ""
    return f"""
[[failover]]
name = "{name}"
primary = "{primary}"
{s}interval_ms = {INTERVAL_MS}
misses = {MISSES}
{extra}"""


HOT = ('[hypervisor]\nlog_level = "info"\n'
       + partition("stop-a", 1, "ha fail=stop fail_ms=3000") + partition("stop-b", 2, "ha")
       + partition("hang-a", 3, "ha fail=hang fail_ms=4000") + partition("hang-b", 4, "ha")
       + partition("crash-a", 5, "ha fail=crash fail_ms=5000") + partition("crash-b", 6, "ha")
       + partition("client", 7, f"ha-client svc={','.join(SVC)} period_us=2000")
       + group("svc-stop", "stop-a", "stop-b", 'mode = "hot"\n')
       + group("svc-hang", "hang-a", "hang-b")
       + group("svc-crash", "crash-a", "crash-b"))

COLD = ('[hypervisor]\nlog_level = "info"\n'
        + partition("cold-a", 1, "ha fail=crash fail_ms=2000")
        + partition("restart-a", 2, "ha fail=shutdown fail_ms=2000")
        + partition("client", 3, f"ha-client svc={','.join(SVC[:2])} period_us=2000")
        + partition("off", 4, "poweroff")
        + group("svc-cold", "cold-a", None,
                'mode = "cold"\nstandby_kernel = "testguest.elf"\nstandby_cmdline = "ha tick_ms=999"\n')
        + group("svc-restart", "restart-a"))

hot = backend_module_boot(HOT, "failover-hot", "pc-8cpu")
cold = backend_module_boot(COLD, "failover-cold", "pc-7cpu")

# An event's columns: time, kind, partition; then the rest of the line: the
# other partition, the figures, and after ": " why.
EVENT = re.compile(r"^\s+(\d+\.\d+) s\s+(\S+)\s+([^\s:]+)(.*)$", re.M)


def event(m):
    head, _, why = m[4].partition(": ")
    other = re.search(r"->\s*([^\s:]+)|\breplacing ([^\s)]+)", head)
    detect = re.search(r"\bdetection ([\d.]+) ms\b", head)
    takeover = re.search(r"\btakeover ([\d.]+) ms\b", head)
    return dict(at=float(m[1]), kind=m[2], part=m[3], other=other and (other[1] or other[2]),
                detect=detect and float(detect[1]), takeover=takeover and float(takeover[1]), why=why)


def group_block(out, name):
    m = re.search(r"^group %s: .*?(?=^group |\Z)" % re.escape(name), out, re.M | re.S)
    assert m, out
    return m.group(0)


def events(hv, name):
    block = group_block(hv.cmd("failover"), name)
    return block, [event(m) for m in EVENT.finditer(block)]


def wait_event(hv, name, kind, part=None, after=0, timeout=120):
    deadline = time.time() + timeout
    while True:
        block, evs = events(hv, name)
        for e in evs[after:]:
            if e["kind"] == kind and (part is None or e["part"] == part):
                return block, evs, e
        if time.time() > deadline:
            pytest.fail(f"{name}: no {kind} event for {part} within {timeout} s:\n{block}")
        time.sleep(1)


def hb_rows(hv):
    rows = {}
    for m in re.finditer(r"^(\S+)\s+(\S+)\s+(none|primary|standby)\s+(OFF|WAITING|ALIVE|LATE|FAILED)\s",
                         hv.cmd("hb"), re.M):
        rows[m[1]] = dict(group=m[2], role=m[3], state=m[4])
    return rows


def wait_hb(hv, name, role, state, timeout=120):
    deadline = time.time() + timeout
    while True:
        rows = hb_rows(hv)
        if rows.get(name, {}).get("role") == role and rows.get(name, {}).get("state") == state:
            return rows
        if time.time() > deadline:
            pytest.fail(f"{name} not {role}/{state} within {timeout} s: {rows}")
        time.sleep(1)


def check_takeover(hv, group, failed, standby, how):
    """The failure was detected in time, the old primary stopped before the
    standby was promoted, and the standby acknowledged: returns the times."""
    block, evs, done = wait_event(hv, group, "taken-over", standby)
    kinds = [(e["kind"], e["part"]) for e in evs]
    i_fail = kinds.index(("failed", failed))
    i_fence = kinds.index(("fenced", failed))
    i_hot = kinds.index(("hot", failed))
    assert i_fail < i_fence < i_hot, block
    assert line_with(evs[i_fail]["why"], *how), block
    assert evs[i_hot]["other"] == standby, block
    rows, _ = parts(hv)
    assert rows[failed]["state"] == "stopped", rows
    assert rows[standby]["state"] == "running", rows
    hb = hb_rows(hv)
    assert hb[standby]["role"] == "primary", hb
    print(f"\n{group} [{hv.backend}]: {how}: detection {done['detect']} ms, takeover {done['takeover']} ms")
    return done["detect"], done["takeover"]


def client_outage(hv, k, server, was, timeout=60, lossless_ok=False):
    """The client's report of the switch to `server`. A primary whose agent
    stopped but whose service still answers may hand over within one request
    period: then no request goes unanswered (lossless_ok)."""
    text, m = wait_for(hv, "client", fact_line("client:", f"svc {k}", re.compile(r"\boutage ([\d.]+) ms\b"),
                                               re.compile(r"\b(\d+) requests unanswered"), f"served by {server}",
                                               f"was {was}"), timeout=timeout)
    ms, lost = float(m[1]), int(m[2])
    print(f"client [{hv.backend}]: svc {k}: outage {ms} ms, {lost} requests unanswered, now {server}")
    assert ms > 0 and (lost > 0 or lossless_ok), text
    return ms, lost


# ---------------------------------------------------------------- hot standby

def test_groups_come_up(hot):
    # A group is announced once its primary's agent beats, which may come after
    # the prompt on a loaded machine: read the log until all three are there.
    deadline = time.monotonic() + 60
    while True:
        log = hot.cmd("log")
        up = [line_with(log, g, a, "beats", "primary", "announced")
              for g, a in (("svc-stop", "stop-a"), ("svc-hang", "hang-a"), ("svc-crash", "crash-a"))]
        if all(up) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert all(up), log
    out = hot.cmd("failover")
    for g in ("svc-stop", "svc-hang", "svc-crash"):
        assert f"group {g}: " in out, out
    assert line_with(group_block(out, "svc-stop"), "svc-stop", "mode hot"), out
    # Replies come from the primaries.
    for k, a in enumerate(("stop-a", "hang-a", "crash-a")):
        wait_for(hot, "client", fact_line("client:", f"svc {k}", "first reply", f"from {a}"))


def test_agent_stopped(hot):
    detect, takeover = check_takeover(hot, "svc-stop", "stop-a", "stop-b", ("missed", f"{MISSES} beats"))
    assert MISSES * INTERVAL_MS <= detect <= (MISSES + 1) * INTERVAL_MS, detect
    assert takeover <= 3 * INTERVAL_MS, takeover
    client_outage(hot, 0, "stop-b", "stop-a", lossless_ok=True)


def test_hang(hot):
    detect, takeover = check_takeover(hot, "svc-hang", "hang-a", "hang-b", ("missed", f"{MISSES} beats"))
    assert MISSES * INTERVAL_MS <= detect <= (MISSES + 1) * INTERVAL_MS, detect
    assert takeover <= 3 * INTERVAL_MS, takeover
    client_outage(hot, 1, "hang-b", "hang-a")


def test_crash(hot):
    detect, takeover = check_takeover(hot, "svc-crash", "crash-a", "crash-b", ("crashed",))
    # At once: the master hears of the triple fault from the failing vCPU.
    assert detect <= INTERVAL_MS, detect
    assert takeover <= 3 * INTERVAL_MS, takeover
    text = console(hot, "crash-a")
    assert line_with(text, "ha:", "crash-a", "failure", "triple fault"), text
    client_outage(hot, 2, "crash-b", "crash-a")


def test_others_unaffected(hot):
    rows, out = parts(hot)
    assert rows["client"]["state"] == "running", out
    for g in ("svc-hang", "svc-crash"):
        block = group_block(hot.cmd("failover"), g)
        assert "failovers 1" in block, block


def test_manual_switchover(hot):
    wait_event(hot, "svc-stop", "taken-over", "stop-b")
    # Refused while the standby is not running and beating.
    out = hot.cmd("failover svc-stop")
    assert line_with(out, "svc-stop", "standby stop-a", "not running", "beating"), out
    out = hot.cmd("failover nope")
    assert line_with(out, "no group", '"nope"'), out
    _, before = events(hot, "svc-stop")
    # The old primary comes back as the standby, and the service is switched back to it.
    hot.cmd("part start stop-a")
    wait_hb(hot, "stop-a", "standby", "ALIVE")
    out = hot.cmd("failover svc-stop")
    assert line_with(out, "svc-stop", "stop-a", "primary"), out
    block, evs, done = wait_event(hot, "svc-stop", "taken-over", "stop-a", after=len(before))
    kinds = [(e["kind"], e["part"]) for e in evs[len(before):]]
    assert ("manual", "stop-b") in kinds, block
    rows, _ = parts(hot)
    assert rows["stop-b"]["state"] == "stopped", rows
    client_outage(hot, 0, "stop-a", "stop-b", lossless_ok=True)
    # stop-a stops beating again 3 s after it became primary: with its standby
    # stopped, mode hot has nowhere to go and the group goes down (no cold boot).
    block, _, e = wait_event(hot, "svc-stop", "group-down", after=len(before))
    assert line_with(e["why"], "mode hot", "no cold boot"), block
    assert line_with(block, "group svc-stop", "DOWN"), block
    rows, _ = parts(hot)
    assert rows["stop-a"]["state"] == "stopped", rows


# ---------------------------------------------------------------- cold standby

def test_cold_standby_image(cold):
    before, _ = parts(cold)
    block, evs, done = wait_event(cold, "svc-cold", "taken-over", "cold-a")
    kinds = [(e["kind"], e["part"]) for e in evs]
    assert kinds.index(("failed", "cold-a")) < kinds.index(("fenced", "cold-a")) < \
        kinds.index(("cold", "cold-a")), block
    print(f"\nsvc-cold [{cold.backend}]: crash: detection {done['detect']} ms, takeover {done['takeover']} ms")
    assert done["detect"] <= INTERVAL_MS, block
    # On its own CPUs, with the group's standby image.
    rows, _ = parts(cold)
    assert rows["cold-a"]["state"] == "running" and rows["cold-a"]["cpus"] == before["cold-a"]["cpus"], rows
    out = cold.cmd("parts -v")
    assert line_with(out, "image:", "standby", "testguest.elf", "'ha tick_ms=999'"), out
    wait_for(cold, "cold-a", fact_line("testguest", "scenario ha", "'ha tick_ms=999'"))
    client_outage(cold, 0, "cold-a", "cold-a")


def test_cold_restart(cold):
    block, evs, done = wait_event(cold, "svc-restart", "taken-over", "restart-a")
    kinds = [(e["kind"], e["part"]) for e in evs]
    assert kinds.index(("failed", "restart-a")) < kinds.index(("restart", "restart-a")), block
    assert line_with(evs[kinds.index(("failed", "restart-a"))]["why"], "shut down"), block
    # At once: the power-off write is a trapped port access.
    assert done["detect"] <= INTERVAL_MS, block
    print(f"\nsvc-restart [{cold.backend}]: power-off: detection {done['detect']} ms, "
          f"takeover {done['takeover']} ms (a reboot)")
    client_outage(cold, 1, "restart-a", "restart-a")
    # The restarted image powers off again each time: after 3 cold takeovers
    # within 60 s the group goes down instead of booting it in a loop.
    block, evs, e = wait_event(cold, "svc-restart", "group-down")
    assert line_with(e["why"], "failed", "3 cold takeovers", "60 s"), block
    assert len([x for x in evs if x["kind"] == "restart"]) == 3, block
    rows, _ = parts(cold)
    assert rows["restart-a"]["state"] == "stopped", rows
    _, n = events(cold, "svc-restart")
    time.sleep(2)
    _, evs2 = events(cold, "svc-restart")
    assert len(evs2) == len(n), evs2

def test_poweroff_outside_a_group(cold):
    """A partition in no group that powers off is stopped: its resources free."""
    row = wait_state(cold, "off", "stopped")
    text = console(cold, "off")
    assert line_with(text, "acpi:", "powering off", "SLP_TYP 5", "port 0x600"), text
    assert "FAIL" not in text, text
    log = cold.cmd("log")
    assert line_with(log, "off:", "powered off", "S5"), log
