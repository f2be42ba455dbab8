"""Data-level resume variant of pipe.py. env: DL_PREV_CACHES=dir1:dir2 (previous attempts'
DISTILABEL_CACHE_DIRs), plus pipe.py's env. Always runs with use_cache=False in a fresh cache dir."""
import os, sys, json, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dl_resume
prev_dirs = [d for d in os.environ.get("DL_PREV_CACHES", "").split(":") if d]
leaf = "slow" if int(os.environ.get("N_STEPS", "1")) == 1 else f"slow_{os.environ['N_STEPS']}"
prev = dl_resume.finished_rows(prev_dirs, leaf_step=leaf, key="id")
skip_file = os.path.join(os.environ["DISTILABEL_CACHE_DIR"] + ".skip.json")
os.makedirs(os.path.dirname(skip_file), exist_ok=True)
json.dump(sorted(prev), open(skip_file, "w"))
os.environ["SKIP_IDS"] = skip_file
os.environ["USE_CACHE"] = "0"
import pipe  # builds the pipeline from the filtered rows
if __name__ == "__main__":
    t0 = time.time()
    p = pipe.pipeline.ray(ray_init_kwargs={"address": "local", "num_cpus": 2, "include_dashboard": False,
        "_temp_dir": os.environ.get("RAY_TMP", "/work/research-resume/raytmp")}) if pipe.RAY else pipe.pipeline
    if len(pipe.rows) == 0:
        new = []
    else:
        ds = p.run(use_cache=False)
        new = list(ds["default"]["train"]) if ds else []
    allrows = dl_resume.merge(prev, new, key="id")
    ids = sorted(r["id"] for r in allrows)
    print(f"RESULT rows={len(ids)} unique={len(set(ids))} prev={len(prev)} new={len(new)} elapsed={time.time()-t0:.1f}", flush=True)
    if os.environ.get("RESULT_JSON"):
        json.dump(ids, open(os.environ["RESULT_JSON"], "w"))
