"""A distilabel pipeline on Ray across a Slurm allocation, with no model to download.

LoadDataFromDicts -> Square (2 replicas) -> Tag -> Rank (a global step) -> Finish

- It calls `pipeline.ray().run(...)` itself: the automatic switch to RayPipeline needs variables a
  Jobs API submission does not set.
- The global step receives its data through files, so `storage_parameters` must be a path every
  node sees (bootstrap's --require-shared checks it before the pipeline starts).
- Square (2 replicas) is followed by a one-replica step, not by the global step: a replicated step
  directly before a global step never finishes in distilabel 1.5.
- The pipeline checks its own result (row count, ranks, nodes used) and exits non-zero if it is
  wrong, since distilabel can report success with 0 rows.

Usage: python -u pipeline.py OUTPUT_DIR [ROWS] [--sequential]
  OUTPUT_DIR on shared storage; the Distiset is saved to OUTPUT_DIR/distiset.
  --sequential runs the steps one stage at a time (load_groups="sequential_step_execution"), the
  way a pipeline of several GPU steps fits on fewer GPUs.
"""
import os
import socket
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import ray  # noqa: E402
from distilabel.pipeline import Pipeline  # noqa: E402
from distilabel.steps import LoadDataFromDicts, StepInput, StepResources, step  # noqa: E402

args = [a for a in sys.argv[1:] if not a.startswith("--")]
output = os.path.abspath(args[0])
rows = int(args[1]) if len(args) > 1 else 2000
sequential = "--sequential" in sys.argv


@step(inputs=["n"], outputs=["square", "square_host"])
def Square(inputs: StepInput):
    for row in inputs:
        row["square"] = row["n"] * row["n"]
        row["square_host"] = socket.gethostname()
    yield inputs


@step(inputs=["square"], outputs=["parity"])
def Tag(inputs: StepInput):
    for row in inputs:
        row["parity"] = "even" if row["square"] % 2 == 0 else "odd"
    yield inputs


@step(inputs=["square"], outputs=["rank"], step_type="global")
def Rank(inputs: StepInput):
    ordered = sorted(inputs, key=lambda row: row["square"])
    for rank, row in enumerate(ordered):
        row["rank"] = rank
    yield ordered


@step(inputs=["rank"], outputs=["finish_host"])
def Finish(inputs: StepInput):
    for row in inputs:
        row["finish_host"] = socket.gethostname()
    yield inputs


# Connect first (RayPipeline then reuses the connection) to see the cluster's nodes.
ray.init()
alive = [node for node in ray.nodes() if node["Alive"]]
# Actors need a CPU only while being placed, so Ray may put both replicas on one node. Asking each
# replica for more than half of the smallest node's logical "memory" resource makes two replicas
# never share a node (the other steps ask for none, so they still fit anywhere).
node_memory = int(min(node["Resources"].get("memory", 0) for node in alive))
spread = len(alive) >= 2 and node_memory > 0
square_resources = StepResources(replicas=2, memory=int(node_memory * 0.6)) if spread else StepResources(replicas=2)

with Pipeline(name="slurm-distil-example", cache_dir=os.path.join(output, "cache")) as pipeline:
    # With load groups the generator must yield everything in one batch (distilabel 1.5 hangs otherwise).
    load = LoadDataFromDicts(data=[{"n": i} for i in range(rows)], batch_size=rows if sequential else 100)
    square = Square(resources=square_resources, input_batch_size=100)
    tag = Tag(input_batch_size=100)
    rank = Rank()
    finish = Finish(input_batch_size=100)
    load >> square >> tag >> rank >> finish

distiset = pipeline.ray().run(
    use_cache=False,
    storage_parameters={"path": os.path.join(output, "batches")},
    load_groups="sequential_step_execution" if sequential else None,
)
data = distiset["default"]["train"]
hosts = sorted(set(data["square_host"]))
print(f"rows={len(data)} expected={rows}", flush=True)
print(f"square ran on: {','.join(hosts)}", flush=True)
distiset.save_to_disk(os.path.join(output, "distiset"), save_card=False)
print(f"distiset saved to {os.path.join(output, 'distiset')}", flush=True)

problems = []
if len(data) != rows:
    problems.append(f"{len(data)} rows instead of {rows}")
if sorted(data["rank"]) != list(range(rows)):
    problems.append("ranks are not 0..rows-1")
if sorted(data["n"]) != list(range(rows)):
    problems.append("rows were lost or duplicated")
if spread and len(hosts) < 2:
    problems.append(f"the replicated step ran on one node only ({hosts})")
if problems:
    print("pipeline check FAILED: " + "; ".join(problems), flush=True)
    sys.exit(4)
print("pipeline check passed", flush=True)
