"""A pipeline for bootstrap's tests. Modes (first argument):
  nodes [EXIT]   one task per node; prints what Ray sees; exits EXIT (default 0)
  auth           asks this job's own dashboard for /api/jobs/ without a token; prints the HTTP status
  sleep          connects to Ray, prints "started", then sleeps until stopped
  tick N         for N seconds, runs a task on every node each second and prints "tick I hosts=..."
  crash          raises an exception (a Python traceback, exit status 1)
  flood MB       prints MB mebibytes of numbered lines, then "flood done"
  secrets        prints HF_TOKEN and SD_FILE_SECRET from its environment, then sleeps until stopped
"""
import os
import socket
import sys
import time
import urllib.error
import urllib.request

mode = sys.argv[1]
if mode == "sleep":
    # Connected to Ray first, so that the job has a driver process (whose stack --stall-timeout saves).
    import ray

    ray.init()
    print("started", flush=True)
    time.sleep(600)
    sys.exit(0)

if mode == "auth":
    host, port = os.environ["RAY_ADDRESS"].rsplit(":", 1)
    url = f"http://{host}:{int(port) + 1}/api/jobs/"
    for name, headers in [("unauthenticated", {}), ("wrong-token", {"Authorization": "Bearer " + "0" * 64})]:
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10)
            print(f"{name} status 200", flush=True)
        except urllib.error.HTTPError as error:
            print(f"{name} status {error.code}", flush=True)
    sys.exit(0)

if mode == "crash":
    raise RuntimeError("the pipeline broke")

if mode == "flood":
    line = "x" * 90
    total = int(sys.argv[2]) << 20
    written = 0
    number = 0
    out = sys.stdout
    while written < total:
        text = f"{number:09d} {line}\n"
        out.write(text)
        written += len(text)
        number += 1
    out.write("flood done\n")
    out.flush()
    sys.exit(0)

if mode == "secrets":
    print("HF_TOKEN=" + os.environ.get("HF_TOKEN", "unset"), flush=True)
    print("SD_FILE_SECRET=" + os.environ.get("SD_FILE_SECRET", "unset"), flush=True)
    print("started", flush=True)
    time.sleep(600)
    sys.exit(0)

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

ray.init()
nodes = [n for n in ray.nodes() if n["Alive"]]
resources = ray.cluster_resources()
print(f"nodes={len(nodes)} cpus={resources.get('CPU', 0):.0f} gpus={resources.get('GPU', 0):.0f}", flush=True)


@ray.remote(num_cpus=0)
def where():
    return socket.gethostname()


if mode == "tick":
    seconds = int(sys.argv[2])
    started = time.time()
    tick = 0
    while time.time() - started < seconds:
        tick += 1
        alive = [n for n in ray.nodes() if n["Alive"]]
        found = ray.get([where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote() for n in alive])
        print(f"tick {tick} hosts=" + ",".join(sorted(found)), flush=True)
        time.sleep(1)
    sys.exit(0)

hosts = ray.get([where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote() for n in nodes])
print("hosts=" + ",".join(sorted(hosts)), flush=True)
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
