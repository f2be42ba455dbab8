"""A Ray Data batch job across a Slurm allocation: read -> map_batches on an actor pool spread over
the nodes -> write_parquet to shared storage; prints how many rows each node processed and checks
the written result.

Usage: python -u pipeline.py OUTPUT_DIR [ROWS] [ACTORS]
  OUTPUT_DIR on shared storage (every node writes its part there).
"""
import os
import socket
import sys
from collections import Counter

import pyarrow.parquet as pq
import ray

output = os.path.abspath(sys.argv[1])
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
actors = int(sys.argv[3]) if len(sys.argv) > 3 else 2

ray.init()
ray.data.DataContext.get_current().enable_progress_bars = False
alive = [node for node in ray.nodes() if node["Alive"]]
# A CPU fraction lets two actors share a node; more than half of the smallest node's logical
# "memory" resource per actor keeps them on different nodes.
node_memory = int(min(node["Resources"].get("memory", 0) for node in alive))
spread = len(alive) >= 2 and node_memory > 0


class Featurize:
    """Stands in for a model: an actor that loads once, then transforms batches."""

    def __init__(self):
        self.host = socket.gethostname()

    def __call__(self, batch):
        batch["square"] = batch["id"] * batch["id"]
        batch["host"] = [self.host] * len(batch["id"])
        return batch


dataset = ray.data.range(rows, override_num_blocks=20).map_batches(
    Featurize,
    batch_size=500,
    compute=ray.data.ActorPoolStrategy(size=actors),
    num_cpus=0.5,
    memory=int(node_memory * 0.6) if spread else None,
)
dataset.write_parquet(output)

table = pq.read_table(output)
per_node = Counter(table.column("host").to_pylist())
for host, count in sorted(per_node.items()):
    print(f"{host}: {count} rows", flush=True)
print(f"rows={table.num_rows} expected={rows} nodes={len(per_node)}", flush=True)
problems = []
if table.num_rows != rows or sorted(table.column("id").to_pylist()) != list(range(rows)):
    problems.append("rows were lost or duplicated")
if spread and len(per_node) < 2 and actors > 1:
    problems.append(f"map_batches ran on one node only ({list(per_node)})")
if problems:
    print("pipeline check FAILED: " + "; ".join(problems), flush=True)
    sys.exit(4)
print("pipeline check passed", flush=True)
