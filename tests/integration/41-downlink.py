"""Downlink end to end: records produced with kcat to ferry-cloud's `commands` topic reach a mosquitto_sub
subscriber on ferry-agent ([downlink] topic commands).

1. addressing: key "gw1/<topic>" -> local topic <topic>; key "gw2/..." -> skipped; a null key with headers
   ferry.agent=gw1 and mqtt.topic=cmd/reboot -> cmd/reboot; the counters on /metrics agree;
2. offset kept in the cloud: the agent stopped, a command produced meanwhile, the agent restarted: the
   command reaches a persistent session that was offline, and nothing delivered before comes again.
Run by /usr/bin/python3; free ports, temp dirs, every process stopped."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from cloudtest import Broker  # noqa: E402
from uplink_fixture import Agent  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def kcat(bootstrap, key=None, value="", headers=()):
    cmd = ["kcat", "-P", "-b", bootstrap, "-t", "commands"]
    if key is not None:
        cmd += ["-k", key]
    for h in headers:
        cmd += ["-H", h]
    subprocess.run(cmd, input=value.encode(), check=True, timeout=20)


def sub(port, count, extra=(), wait_s=15):
    return subprocess.Popen(["mosquitto_sub", "-p", str(port), "-q", "1", "-v", "-C", str(count), "-W", str(wait_s),
                             "-t", "#"] + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def main():
    tmp = tempfile.mkdtemp(prefix="ferry-it41-")
    cloud = Broker()
    cloud.start()
    agent = Agent(tmp, "[uplink]\nbootstrap %s\nagent_id gw1\nbackoff_max 500ms\n"
                  "[downlink]\ntopic commands\nfetch_wait 200ms\n" % cloud.bootstrap)
    agent.start()
    try:
        # the consumer is placed (latest offset committed) before anything is produced
        check(agent.wait_metric("ferry_downlink_commits_total", 1), "downlink never committed its start offset")
        # a persistent session that will be offline across the restart in step 2
        subprocess.run(["mosquitto_sub", "-p", str(agent.port), "-q", "1", "-c", "-i", "lamp", "-t", "late/#",
                        "-W", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)

        # 1. addressing
        s = sub(agent.port, 2)
        time.sleep(0.5)
        kcat(cloud.bootstrap, "gw2/devices/lamp/set", "not for us")
        kcat(cloud.bootstrap, "gw1/devices/lamp/set", "on")
        kcat(cloud.bootstrap, None, "now", ["ferry.agent=gw1", "mqtt.topic=cmd/reboot"])
        out, _ = s.communicate(timeout=30)
        lines = out.decode(errors="replace").splitlines()
        check(lines == ["devices/lamp/set on", "cmd/reboot now"], "subscriber got %r" % lines)
        check(agent.wait_metric("ferry_downlink_delivered_total", 2), "delivered counter")
        check(agent.metric("ferry_downlink_skipped_total") == 1, "skipped counter %r" %
              agent.metric("ferry_downlink_skipped_total"))
        check(agent.wait_metric("ferry_downlink_commits_total", 2), "no commit after delivery")
        time.sleep(0.5)  # let the commit of the last position land

        # 2. offline agent: the committed offset carries the position over a restart
        agent.stop()
        kcat(cloud.bootstrap, "gw1/late/cmd", "while-down")
        agent.start()
        s = sub(agent.port, 1, ["-c", "-i", "lamp"], wait_s=15)
        out, _ = s.communicate(timeout=30)
        got = out.decode(errors="replace").splitlines()
        check(got == ["late/cmd while-down"], "command produced while the agent was down: %r" % got)
        s = sub(agent.port, 1, wait_s=2)
        out, _ = s.communicate(timeout=30)
        check(out.strip() == b"" or b"Timed out" in out, "redelivered after restart: %r" % out)
        check(agent.metric("ferry_downlink_delivered_total") == 1, "after restart delivered %r, want 1" %
              agent.metric("ferry_downlink_delivered_total"))
    finally:
        agent.close()
        cloud.close()
        if failures:
            print(agent.tail())
        shutil.rmtree(tmp, ignore_errors=True)
    print("41-downlink: %s" % ("FAIL" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
