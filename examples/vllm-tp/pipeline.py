"""vLLM batch inference with tensor parallelism across a Slurm allocation (for GPU clusters).

The 2D-parallel pattern: INSTANCES model replicas (data parallel), each over TP GPUs of one node
(tensor parallel). Every instance gets a placement group of TP GPU bundles packed on one node, and
vLLM runs its tensor-parallel workers as Ray actors inside it (distributed_executor_backend="ray").
Requires vllm and model weights on shared storage; it cannot run on a machine without GPUs.

Usage: python -u pipeline.py MODEL_DIR PROMPTS.jsonl OUTPUT_DIR [TP] [INSTANCES]
  TP must not exceed the GPUs per node (bootstrap --tensor-parallel-size warns when it does).
"""
import json
import os
import sys

import ray
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

model, prompts_path, output = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
tp = int(sys.argv[4]) if len(sys.argv) > 4 else 1
instances = int(sys.argv[5]) if len(sys.argv) > 5 else 1
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ray.init()
gpus_per_node = max((n["Resources"].get("GPU", 0) for n in ray.nodes() if n["Alive"]), default=0)
if tp > gpus_per_node:
    sys.exit(f"tensor parallel size {tp} exceeds the {gpus_per_node:.0f} GPUs of a node")


@ray.remote(num_gpus=0)
class Generator:
    """One model instance; vLLM places its TP workers in this actor's placement group."""

    def __init__(self, model_dir: str, tensor_parallel_size: int):
        from vllm import LLM, SamplingParams

        self.llm = LLM(model=model_dir, tensor_parallel_size=tensor_parallel_size, distributed_executor_backend="ray")
        self.params = SamplingParams(temperature=0.7, max_tokens=256)

    def generate(self, prompts):
        return [result.outputs[0].text for result in self.llm.generate(prompts, self.params)]


with open(prompts_path) as handle:
    prompts = [json.loads(line)["prompt"] for line in handle if line.strip()]

generators = []
for _ in range(instances):
    group = placement_group([{"GPU": 1, "CPU": 1}] * tp, strategy="STRICT_PACK")
    ray.get(group.ready())
    generators.append(
        Generator.options(
            scheduling_strategy=PlacementGroupSchedulingStrategy(group, placement_group_capture_child_tasks=True)
        ).remote(model, tp)
    )

shards = [prompts[i::instances] for i in range(instances)]
results = ray.get([g.generate.remote(shard) for g, shard in zip(generators, shards)])
os.makedirs(output, exist_ok=True)
with open(os.path.join(output, "generations.jsonl"), "w") as handle:
    for shard, texts in zip(shards, results):
        for prompt, text in zip(shard, texts):
            handle.write(json.dumps({"prompt": prompt, "generation": text}) + "\n")
print(f"generated {sum(len(t) for t in results)} answers with {instances} instance(s) x TP {tp}", flush=True)
