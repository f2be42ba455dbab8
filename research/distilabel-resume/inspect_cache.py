"""Load a distilabel cache's batch manager the way Pipeline.run(use_cache=True) does and
print the state that decides whether the next batch can be built."""
import sys, glob, os, json
sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("SKIP_IDS", "")
import pipe  # builds `pipe.pipeline` (no run)
from distilabel.pipeline.batch_manager import _BatchManager

cache = sys.argv[1]
bm_path = glob.glob(f"{cache}/*/*/executions/*/batch_manager.json")[0]
steps_data = glob.glob(f"{cache}/*/steps_data")[0]
bm = _BatchManager.load_from_cache(dag=pipe.pipeline.dag, batch_manager_path=bm_path, steps_data_path=__import__('pathlib').Path(steps_data))
for name, s in bm._steps.items():
    print(f"step {name}: seq_no={s.seq_no} next_expected_seq_no={s.next_expected_seq_no} step_offset={s.step_offset} "
          f"last_batch_received={s.last_batch_received} built_batches={[b.seq_no for b in s.built_batches]}")
    for pred, batches in s.data.items():
        print(f"   data[{pred}] = {[(b.seq_no, len(b.data[0])) for b in batches]}")
    print(f"   _ready_to_create_batch()={s._ready_to_create_batch() if s.data else 'n/a (generator)'}")
print("last_batch_received:", {k: (v.seq_no, v.last_batch) if v else None for k, v in bm._last_batch_received.items()})
print("last_batch_sent:", {k: (v.seq_no, v.last_batch) if v else None for k, v in bm._last_batch_sent.items()})
print("last_batch_flag_sent_to:", bm._last_batch_flag_sent_to, "can_generate:", bm.can_generate())
