"""A small Ray program for slurm-distil's demo: one task on every node of the allocation.

It prints what Ray sees (nodes, CPUs, GPUs) and where each task ran, and exits non-zero if any
node is missing, so the batch job's status says whether the cluster was really whole.
Usage: python -u hello.py [EXIT_CODE]
"""
import socket
import sys

import ray

ray.init()
nodes = [n for n in ray.nodes() if n["Alive"]]
resources = ray.cluster_resources()
print(f"Ray sees {len(nodes)} nodes, {resources.get('CPU', 0):.0f} CPUs, {resources.get('GPU', 0):.0f} GPUs", flush=True)


@ray.remote(num_cpus=0)
def where():
    return socket.gethostname(), ray.get_runtime_context().get_node_id()


refs = [
    where.options(scheduling_strategy=ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
    for n in nodes
]
for host, node_id in sorted(ray.get(refs)):
    print(f"task ran on {host} (node {node_id[:8]})", flush=True)

code = int(sys.argv[1]) if len(sys.argv) > 1 else 0
sys.exit(code)
