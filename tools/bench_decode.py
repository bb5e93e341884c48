#!/usr/bin/env python3
"""Reference side of the decode benchmark (scripts/bench_decode.sh; `make bench`).

    PY=/var/tmp/xib-torch2/bin/python   # or the bench environment (scripts/bench-env.sh)
    $PY tools/bench_decode.py prompt GGUF N_PROMPT > ids.txt      # the prompt token ids
    $PY tools/bench_decode.py transformers GGUF ids.txt N_NEW THREADS
    $PY tools/bench_decode.py llamacpp GGUF ids.txt N_NEW THREADS

prompt: a fixed English paragraph (repeated) tokenised with the GGUF's own tokenizer
(llama.cpp's), cut to N_PROMPT ids, one line of comma-separated ids; every side reads the same ids.

transformers: LlamaForCausalLM loaded from the same GGUF (transformers dequantises it to float32),
`model.generate(do_sample=False, min_new_tokens=N_NEW, max_new_tokens=N_NEW)` with
torch.set_num_threads(THREADS); a streamer records when each new token arrives, so the prompt
time is the time to the first new token and the decode rate counts the following N_NEW − 1
tokens (what `xib generate --stats` reports too). One warm-up generate of 4 tokens first.

llamacpp: llama-cpp-python on the same GGUF (n_threads = n_threads_batch = THREADS,
n_batch ≥ N_PROMPT, so the prompt runs as one batch): eval(prompt), then N_NEW − 1 greedy
steps (argmax of the last logits, EOS ignored), timed the same way. llama.cpp computes from
the quantised weights (Q4_1 × Q8_1 dot products), so it reads ~7× fewer bytes per token than
an f32 model.

Each prints one line: "prefill_tps=… decode_tps=… rss_mb=… tokens=… ids=…" (rss_mb: the
process's peak resident memory, getrusage; ids: the generated token ids). Deterministic: greedy decoding, fixed prompt.
"""
import os
import resource
import sys
import time

TEXT = (
    "The history of the lighthouse is a history of people trying to keep others safe at sea. "
    "Early lights were simple fires on hills near harbours; later, towers of stone carried lamps "
    "burning oil, and mirrors and lenses sent their beams far over the water. Keepers lived in the "
    "towers with their families, trimming wicks, polishing glass and writing the weather in log "
    "books through long winter nights. "
)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def report(prefill_s, n_prompt, decode_s, new_ids):
    steps = len(new_ids) - 1
    print(
        f"prefill_tps={n_prompt / prefill_s:.2f} decode_tps={steps / decode_s:.2f} "
        f"rss_mb={peak_rss_mb():.0f} tokens={len(new_ids)} ids={','.join(str(int(i)) for i in new_ids)}",
        flush=True,
    )


def read_ids(path):
    with open(path) as f:
        return [int(t) for t in f.read().strip().split(",")]


def prompt(gguf, n):
    import llama_cpp

    llm = llama_cpp.Llama(model_path=gguf, vocab_only=True, verbose=False)
    ids = llm.tokenize((TEXT * 8).encode(), add_bos=False, special=False)
    if len(ids) < n:
        sys.exit(f"bench_decode: the text gives only {len(ids)} tokens")
    print(",".join(str(i) for i in ids[:n]))


def bench_transformers(gguf, ids, n_new, threads):
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.generation.streamers import BaseStreamer

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(gguf), gguf_file=os.path.basename(gguf), dtype=torch.float32
    ).eval()

    class Clock(BaseStreamer):
        def __init__(self):
            self.times = []

        def put(self, value):
            self.times.append(time.perf_counter())

        def end(self):
            pass

    x = torch.tensor([ids], dtype=torch.long)
    mask = torch.ones_like(x)
    kw = dict(do_sample=False, attention_mask=mask, pad_token_id=0)
    with torch.inference_mode():
        model.generate(x, min_new_tokens=4, max_new_tokens=4, **kw)  # warm-up
        clock = Clock()
        t0 = time.perf_counter()
        out = model.generate(x, min_new_tokens=n_new, max_new_tokens=n_new, streamer=clock, **kw)
    # times[0]: the prompt handed to the streamer, times[1]: first new token, …
    new = out.shape[1] - x.shape[1]
    assert new == n_new and len(clock.times) == n_new + 1, (new, len(clock.times))
    report(clock.times[1] - t0, len(ids), clock.times[-1] - clock.times[1], out[0, x.shape[1] :].tolist())


def bench_llamacpp(gguf, ids, n_new, threads):
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(
        model_path=gguf,
        n_ctx=len(ids) + n_new + 8,
        n_batch=len(ids) + n_new + 8,  # ≥ every position: llama-cpp-python keeps one logits row per batch slot
        n_threads=threads,
        n_threads_batch=threads,
        seed=0,
        verbose=False,
    )

    def run(n):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(ids)
        new = [int(np.argmax(llm.scores[llm.n_tokens - 1]))]
        t1 = time.perf_counter()
        for _ in range(n - 1):
            llm.eval([new[-1]])
            new.append(int(np.argmax(llm.scores[llm.n_tokens - 1])))
        return t1 - t0, time.perf_counter() - t1, new

    run(4)  # warm-up
    prefill, decode, new = run(n_new)
    report(prefill, len(ids), decode, new)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    mode, gguf = sys.argv[1], sys.argv[2]
    if mode == "prompt":
        return prompt(gguf, int(sys.argv[3]))
    ids, n_new, threads = read_ids(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    if mode == "transformers":
        return bench_transformers(gguf, ids, n_new, threads)
    if mode == "llamacpp":
        return bench_llamacpp(gguf, ids, n_new, threads)
    sys.exit(f"bench_decode: unknown mode {mode!r} (prompt, transformers, llamacpp)")


if __name__ == "__main__":
    main()
