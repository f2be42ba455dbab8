"""A pipeline for bootstrap's tests. Modes (first argument):
  nodes [EXIT]   one task per node; prints what Ray sees; exits EXIT (default 0)
  auth           asks this job's own dashboard for /api/jobs/ without a token; prints the HTTP status
  sleep          connects to Ray, prints "started", then sleeps until stopped
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
    try:
        urllib.request.urlopen(url, timeout=10)
        print("unauthenticated status 200", flush=True)
    except urllib.error.HTTPError as error:
        print(f"unauthenticated status {error.code}", flush=True)
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


hosts = ray.get([where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote() for n in nodes])
print("hosts=" + ",".join(sorted(hosts)), flush=True)
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
