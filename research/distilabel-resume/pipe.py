"""Resume test pipeline: load (N_ROWS rows, GEN_BS) -> slow_1 -> ... -> slow_<N_STEPS> (IBS).
Each slow step sleeps SLEEP s per batch, adds a column, and appends one line per batch to BATCH_LOG.
env: N_ROWS=200 GEN_BS=10 IBS=10 N_STEPS=1 SLEEP=0.5 RAY=0 USE_CACHE=1 PIPE_NAME SKIP_IDS RESULT_JSON"""
import os, sys, time, json
from distilabel.pipeline import Pipeline
from distilabel.steps import LoadDataFromDicts, StepInput, step

N = int(os.environ.get("N_ROWS", "200"))
GEN_BS = int(os.environ.get("GEN_BS", "10"))
IBS = int(os.environ.get("IBS", "10"))
N_STEPS = int(os.environ.get("N_STEPS", "1"))
USE_CACHE = os.environ.get("USE_CACHE", "1") == "1"
RAY = os.environ.get("RAY", "0") == "1"
NAME = os.environ.get("PIPE_NAME", "resume-repro")
SKIP = os.environ.get("SKIP_IDS")  # JSON list of ids already done (data-level resume)

@step(inputs=["id"], outputs=["doubled"])
def Slow(inputs: StepInput):
    time.sleep(float(os.environ.get("SLEEP", "0.5")))
    for r in inputs:
        r["doubled"] = r["id"] * 2
    with open(os.environ["BATCH_LOG"], "a") as f:
        f.write(json.dumps({"t": time.time(), "pid": os.getpid(), "n": len(inputs), "ids": [r["id"] for r in inputs]}) + "\n")
    yield inputs

rows = [{"id": i} for i in range(N)]
if SKIP and os.path.exists(SKIP):
    done = set(json.load(open(SKIP)))
    rows = [r for r in rows if r["id"] not in done]
    print(f"data-level resume: skipping {len(done)} rows, {len(rows)} left", flush=True)

with Pipeline(name=NAME, description="resume repro") as pipeline:
    prev = LoadDataFromDicts(name="load", data=rows, batch_size=GEN_BS)
    for i in range(1, N_STEPS + 1):
        s = Slow(name="slow" if N_STEPS == 1 else f"slow_{i}", input_batch_size=IBS)
        prev >> s
        prev = s

if __name__ == "__main__":
    t0 = time.time()
    if RAY:
        # private local Ray instance: never attach to someone else's cluster
        pipeline = pipeline.ray(ray_init_kwargs={"address": "local", "num_cpus": 2, "include_dashboard": False,
                                                 "_temp_dir": os.environ.get("RAY_TMP", "/work/research-resume/raytmp")})
    ds = pipeline.run(use_cache=USE_CACHE)
    ids = sorted(r["id"] for r in ds["default"]["train"]) if ds else []
    print(f"RESULT rows={len(ids)} unique={len(set(ids))} elapsed={time.time()-t0:.1f}", flush=True)
    if os.environ.get("RESULT_JSON"):
        json.dump(ids, open(os.environ["RESULT_JSON"], "w"))
