"""Data-level resume helper for distilabel pipelines (no distilabel internals touched).

Each attempt runs with its OWN cache dir (DISTILABEL_CACHE_DIR=<job>/attempt-N/cache) and
use_cache=False. Finished rows are read back from the per-batch JSON files that distilabel's
main process writes for every batch it receives from a step:
    <cache>/<pipeline name>/steps_data/<leaf step>_<signature>/batch_<seq>.json
Those are written at registration time (one file per finished batch), so they survive a
SIGKILL too (a torn last file is skipped and its rows are recomputed). The write buffer's
parquet (data/steps_outputs) is NOT used: it holds up to 50 rows in memory and loses them on
a hard kill.

API:
    prev = finished_rows(prev_cache_dirs, leaf_step="slow", key="id")  # {key: row}
    rows_todo = [r for r in rows if r["id"] not in prev]
    ... ds = pipeline.run(use_cache=False) ...
    all_rows = merge(prev, new_rows, key="id")
"""
import glob, json, os
from typing import Dict, Iterable, List, Any

def _leaf_batch_files(cache_dir: str, leaf_step: str) -> List[str]:
    return glob.glob(os.path.join(cache_dir, "*", "steps_data", f"{leaf_step}_*", "batch_*.json"))

def finished_rows(cache_dirs: Iterable[str], leaf_step: str, key: str) -> Dict[Any, dict]:
    done: Dict[Any, dict] = {}
    torn = 0
    for d in cache_dirs:
        for f in _leaf_batch_files(d, leaf_step):
            try:
                with open(f) as fh:
                    b = json.load(fh)
            except (json.JSONDecodeError, OSError):
                torn += 1
                continue
            for row in (b.get("data") or [[]])[0]:
                done.setdefault(row[key], row)   # first attempt wins; never duplicates
    if torn:
        print(f"dl_resume: skipped {torn} unreadable batch file(s) (rows will be recomputed)")
    return done

def merge(prev: Dict[Any, dict], new_rows: Iterable[dict], key: str) -> List[dict]:
    out = dict(prev)
    for r in new_rows:
        out.setdefault(r[key], r)
    return list(out.values())
