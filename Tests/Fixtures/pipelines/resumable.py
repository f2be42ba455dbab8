"""A distilabel RayPipeline that resumes across attempts of a requeued job, for the requeue tests.

LoadDataFromDicts (ROWS rows, batches of 10) -> Slow (sleeps SLEEP s per batch of 10)

Usage: python -u resumable.py OUTPUT_DIR ROWS SLEEP
- It relies on what bootstrap gives a requeueable job: DISTILABEL_CACHE_DIR in the job folder (the
  same path every attempt) and SLURM_DISTIL_ATTEMPT. use_cache=True (distilabel's default) resumes.
- Every batch Slow computes is appended to OUTPUT_DIR/batches.jsonl with the attempt number, so the
  test counts the batches computed over all attempts.
- At the end the Distiset's ids go to OUTPUT_DIR/result.json; the script exits 4 when a row is
  missing or duplicated (distilabel can report success with rows lost).
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import ray  # noqa: E402
from distilabel.pipeline import Pipeline  # noqa: E402
from distilabel.steps import LoadDataFromDicts, StepInput, step  # noqa: E402

output = os.path.abspath(sys.argv[1])
rows = int(sys.argv[2])
pause = float(sys.argv[3])
attempt = int(os.environ.get("SLURM_DISTIL_ATTEMPT", "0"))
os.makedirs(output, exist_ok=True)
batches = os.path.join(output, "batches.jsonl")


@step(inputs=["id"], outputs=["doubled"])
def Slow(inputs: StepInput):
    time.sleep(pause)
    for row in inputs:
        row["doubled"] = row["id"] * 2
    with open(batches, "a") as log:
        log.write(json.dumps({"attempt": attempt, "t": time.time(), "ids": [row["id"] for row in inputs]}) + "\n")
    print(f"batch done: attempt {attempt}, ids {inputs[0]['id']}-{inputs[-1]['id']}", flush=True)
    yield inputs


ray.init()
print(f"started attempt {attempt} with DISTILABEL_CACHE_DIR={os.environ.get('DISTILABEL_CACHE_DIR')}", flush=True)
with Pipeline(name="slurm-distil-resumable") as pipeline:
    load = LoadDataFromDicts(data=[{"id": i} for i in range(rows)], batch_size=10)
    slow = Slow(input_batch_size=10)
    load >> slow

distiset = pipeline.ray().run(use_cache=True)
ids = sorted(distiset["default"]["train"]["id"]) if distiset else []
with open(os.path.join(output, "result.json"), "w") as result:
    json.dump({"attempt": attempt, "ids": ids}, result)
print(f"rows={len(ids)} unique={len(set(ids))} expected={rows}", flush=True)
if ids != list(range(rows)):
    print("pipeline check FAILED: rows lost or duplicated", flush=True)
    # Not sys.exit: distilabel's threads can keep a failing interpreter from ending.
    os._exit(4)
print("pipeline check passed", flush=True)
