#!/usr/bin/env python3
"""PyTorch-eager counterpart of tests/bench/bench_qformer.cpp (scripts/bench_qformer.sh).

    .venv-bench/bin/python tools/bench_qformer.py base|small ITERS [WARMUP]

The same aligner in plain eager PyTorch, written the way transformers' InstructBLIP Q-Former
(eager attention) and LAVIS's Qformer.py compute it: encoder LayerNorm → embeddings LayerNorm
over [queries; text] → per layer self-attention (matmul, softmax, dropout, matmul), cross-attention
every 2nd layer for the query positions, query FFN / text FFN (exact GELU) → llm_proj. Training
mode (dropout 0.1), forward + backward of mean(output), same sizes and inputs shapes as the C++
side. Needs only torch (the bench environment, scripts/bench-env.sh). Prints
"seconds=<median step> gflop=<per step> mm_gflops=<peak>" like bench_qformer.
"""
import math
import sys
import time

import torch
from torch import nn

CASES = {
    "base": dict(layers=12, hidden=768, heads=12, ffn=3072, queries=32, enc=1408, llm=4096),
    "small": dict(layers=6, hidden=384, heads=12, ffn=1536, queries=16, enc=1280, llm=576),
}
BATCH, TOKENS, TEXT, FREQ, VOCAB, POSITIONS, P = 8, 257, 32, 2, 30523, 512, 0.1


class Attention(nn.Module):
    def __init__(self, h, heads, kv):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(h, h), nn.Linear(kv, h), nn.Linear(kv, h)
        self.out, self.norm, self.drop = nn.Linear(h, h), nn.LayerNorm(h, eps=1e-12), nn.Dropout(P)

    def forward(self, x, kv, mask=None):
        b, lq, h = x.shape
        dh = h // self.heads
        q = self.q(x).view(b, lq, self.heads, dh).transpose(1, 2)
        k = self.k(kv).view(b, kv.shape[1], self.heads, dh).transpose(1, 2)
        v = self.v(kv).view(b, kv.shape[1], self.heads, dh).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
        if mask is not None:
            scores = scores + mask
        ctx = (self.drop(scores.softmax(-1)) @ v).transpose(1, 2).reshape(b, lq, h)
        return self.norm(self.drop(self.out(ctx)) + x)


class Ffn(nn.Module):
    def __init__(self, h, f):
        super().__init__()
        self.up, self.down = nn.Linear(h, f), nn.Linear(f, h)
        self.norm, self.drop = nn.LayerNorm(h, eps=1e-12), nn.Dropout(P)

    def forward(self, x):
        return self.norm(self.drop(self.down(nn.functional.gelu(self.up(x)))) + x)


class Layer(nn.Module):
    def __init__(self, c, cross):
        super().__init__()
        self.self_attn = Attention(c["hidden"], c["heads"], c["hidden"])
        self.cross = Attention(c["hidden"], c["heads"], c["enc"]) if cross else None
        self.ffn, self.query_ffn = Ffn(c["hidden"], c["ffn"]), Ffn(c["hidden"], c["ffn"])


class Aligner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.ln = nn.LayerNorm(c["enc"], eps=1e-5)
        self.query_tokens = nn.Parameter(torch.randn(1, c["queries"], c["hidden"]) * 0.02)
        self.word = nn.Embedding(VOCAB, c["hidden"], padding_idx=0)
        self.position = nn.Embedding(POSITIONS, c["hidden"])
        self.emb_norm, self.drop = nn.LayerNorm(c["hidden"], eps=1e-12), nn.Dropout(P)
        self.layers = nn.ModuleList(Layer(c, i % FREQ == 0) for i in range(c["layers"]))
        self.llm_proj = nn.Linear(c["hidden"], c["llm"])

    def forward(self, tokens, ids, mask):
        x = self.ln(tokens)
        b, q, l = tokens.shape[0], self.c["queries"], ids.shape[1]
        text = self.word(ids) + self.position.weight[:l]
        h = self.drop(self.emb_norm(torch.cat([self.query_tokens.expand(b, -1, -1), text], 1)))
        full = torch.cat([torch.ones(b, q), mask.float()], 1)
        additive = ((1.0 - full) * torch.finfo(torch.float32).min)[:, None, None, :]
        for i, layer in enumerate(self.layers):
            a = layer.self_attn(h, h, additive)
            hq = a[:, :q]
            if layer.cross is not None:
                hq = layer.cross(hq, x)
            hq = layer.query_ffn(hq)
            h = torch.cat([hq, layer.ffn(a[:, q:])], 1) if i + 1 < len(self.layers) else hq
        return self.llm_proj(h)


def step_gflop(c):
    q, l, s, t, h, f, d = c["queries"], TEXT, c["queries"] + TEXT, TOKENS, c["hidden"], c["ffn"], c["enc"]
    fwd = 0.0
    for i in range(c["layers"]):
        fwd += 2 * (4 * s * h * h + 2 * s * s * h)
        if i % FREQ == 0:
            fwd += 2 * (2 * q * h * h + 2 * t * d * h + 2 * q * t * h)
        fwd += 2 * 2 * q * h * f
        if i + 1 < c["layers"]:
            fwd += 2 * 2 * l * h * f
    fwd += 2 * q * h * c["llm"]
    return 3 * BATCH * fwd / 1e9


def matmul_peak():
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    best = 1e30
    for _ in range(4):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * 2048**3 / best / 1e9


def main():
    name, iters = sys.argv[1], int(sys.argv[2])
    warmup = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    c = CASES[name]
    torch.manual_seed(0)
    model = Aligner(c).train()
    tokens = torch.randn(BATCH, TOKENS, c["enc"])
    ids = torch.randint(1000, 30000, (BATCH, TEXT))
    mask = torch.ones(BATCH, TEXT, dtype=torch.long)
    mask[: BATCH // 2, TEXT // 2 :] = 0
    times = []
    for i in range(warmup + iters):
        model.zero_grad(set_to_none=False)
        t0 = time.perf_counter()
        model(tokens, ids, mask).mean().backward()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    print(f"seconds={times[len(times) // 2]:.4f} gflop={step_gflop(c):.2f} mm_gflops={matmul_peak():.1f} "
          f"threads={torch.get_num_threads()} torch={torch.__version__}")


if __name__ == "__main__":
    main()
