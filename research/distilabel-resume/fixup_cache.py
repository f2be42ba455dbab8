#!/usr/bin/env python3
"""Fix up a distilabel 1.5.x pipeline cache so that `Pipeline.run(use_cache=True)` resumes
instead of hanging (argilla-io/distilabel#1065).

Root cause: `_BatchManagerStep.step_offset[pred] = (seq, rows)` records the *last* batch of
`pred` that was (partly) consumed and how many rows of it were used. When that batch was
consumed entirely (`rows == its size`), `next_expected_seq_no[pred]` has already moved on to
`seq + 1`, but `_BatchManager.load_from_cache` re-reads `steps_data/<pred>/batch_<seq>.json`
with its rows sliced off (an EMPTY batch with seq_no `seq`) into the step's buffer.
`_ready_to_create_batch_normal` only builds batches from buffers whose first batch has
seq_no == next_expected_seq_no[pred][0]; the empty batch `seq` sits in front forever, so
no batch is ever built, and the generator is never asked for more (its successor's buffer
is not "empty" by row count). Deadlock.

Fix-up (JSON only, no distilabel import, idempotent): for every batch-manager step and
predecessor, if next_expected_seq_no[pred][0] > step_offset[pred][0], then every batch of
`pred` below next_expected_seq_no[pred][0] has been consumed: set step_offset[pred] to
(next_expected_seq_no[pred][0], 0). A backup of each modified file is kept (*.orig).

usage: fixup_cache.py CACHE_DIR [--dry-run]     (CACHE_DIR = $DISTILABEL_CACHE_DIR)
"""
import glob, json, os, shutil, sys

def fix(cache_dir: str, dry_run: bool = False) -> int:
    changed = 0
    for bm in glob.glob(os.path.join(cache_dir, "*", "*", "executions", "*", "batch_manager.json")):
        with open(bm) as f:
            content = json.load(f)
        for step_name, step_file in content["steps"].items():
            # paths in batch_manager.json are absolute; re-anchor them next to batch_manager.json
            local = os.path.join(os.path.dirname(bm), "batch_manager_steps", step_name, "batch_manager_step.json")
            path = local if os.path.exists(local) else step_file
            with open(path) as f:
                st = json.load(f)
            modified = False
            for pred, (off_seq, off_rows) in list(st.get("step_offset", {}).items()):
                nxt = st.get("next_expected_seq_no", {}).get(pred, [0, 0])[0]
                if nxt > off_seq:
                    print(f"{path}: step '{step_name}' pred '{pred}': step_offset {[off_seq, off_rows]} -> {[nxt, 0]} (next_expected_seq_no={nxt})")
                    st["step_offset"][pred] = [nxt, 0]
                    modified = True
            if modified and not dry_run:
                if not os.path.exists(path + ".orig"):
                    shutil.copy2(path, path + ".orig")
                tmp = path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(st, f)
                os.replace(tmp, path)
                changed += 1
    return changed

if __name__ == "__main__":
    n = fix(sys.argv[1], dry_run="--dry-run" in sys.argv)
    print(f"fixed {n} batch_manager_step file(s)")
