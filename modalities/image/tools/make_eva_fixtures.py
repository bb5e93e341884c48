#!/usr/bin/env python3
"""Reference fixtures for the EVA-CLIP ViT encoder (modalities/image/src/eva_vit*.cpp).

1. lavis_eva_vit_g_keys.txt: the (name, shape) of every tensor in the state_dict of LAVIS's
   own ViT-g (lavis/models/eva_vit.py VisionTransformer with create_eva_vit_g's config: img 224,
   patch 14, width 1408, depth 39, heads 16, mlp_ratio 4.3637, qkv_bias, LayerNorm eps 1e-6),
   built on the meta device (no memory for its 1B parameters). eva_vit.py is loaded from the
   installed salesforce-lavis (`pip install --no-deps salesforce-lavis`) with its one LAVIS
   import shimmed. The test checks that our weight map consumes exactly these names.
2. timm_eva_small.safetensors + timm_eva_small.json: a small random timm `Eva` (pretrained=False,
   names as timm has them, fused qkv bias = [q_bias, 0, v_bias]) in float32, an input batch
   and the tokens it gives without the final norm (X-InstructBLIP drops it), [B, 1 + N, W].
   A bf16 copy of the weights checks loading from half-precision checkpoints.

Run (deterministic, seeded):
    /var/tmp/xib-torch2/bin/python modalities/image/tools/make_eva_fixtures.py
"""
import importlib.util
import json
import pathlib
import sys
import types
from functools import partial

import torch
from safetensors.torch import save_file
from timm.models.eva import Eva

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/data/eva"


def lavis_eva_module():
    spec = importlib.util.find_spec("lavis")
    path = pathlib.Path(spec.submodule_search_locations[0]) / "models/eva_vit.py"
    # eva_vit.py imports lavis.common.dist_utils (which pulls in the whole of LAVIS); only
    # download_cached_file is used, and only by create_eva_vit_g, which we do not call.
    for name in ("lavis", "lavis.common", "lavis.common.dist_utils"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["lavis.common.dist_utils"].download_cached_file = None
    s = importlib.util.spec_from_file_location("lavis_eva_vit", path)
    m = importlib.util.module_from_spec(s)
    s.loader.exec_module(m)
    return m


def lavis_keys():
    m = lavis_eva_module()
    linspace = torch.linspace
    torch.linspace = lambda *a, **k: linspace(*a, **{**k, "device": "cpu"})  # its .item() needs real values
    with torch.device("meta"):
        model = m.VisionTransformer(img_size=224, patch_size=14, use_mean_pooling=False, embed_dim=1408, depth=39,
                                    num_heads=1408 // 88, mlp_ratio=4.3637, qkv_bias=True, drop_path_rate=0.0,
                                    norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_checkpoint=False)
    torch.linspace = linspace
    lines = [f"{k} {','.join(str(d) for d in v.shape)}" for k, v in model.state_dict().items()]
    (OUT / "lavis_eva_vit_g_keys.txt").write_text(
        "# LAVIS eva_vit.py VisionTransformer (create_eva_vit_g config, depth 39): name shape\n" +
        "\n".join(lines) + "\n")
    return len(lines)


def timm_small():
    torch.manual_seed(7)
    cfg = dict(img_size=21, patch_size=7, embed_dim=32, depth=2, num_heads=4, mlp_ratio=4.3637, qkv_bias=True,
               qkv_fused=True, use_abs_pos_emb=True, num_classes=0, global_pool="")
    model = Eva(**cfg).eval()
    with torch.no_grad():  # non-trivial values everywhere (timm initialises some biases to 0)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    model.norm = torch.nn.Identity()  # X-InstructBLIP uses the blocks' output, no final norm
    x = torch.randn(2, 3, 21, 21)
    with torch.no_grad():
        tokens = model.forward_features(x)
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(sd, str(OUT / "timm_eva_small.safetensors"))
    save_file({k: v.to(torch.bfloat16) for k, v in sd.items()}, str(OUT / "timm_eva_small_bf16.safetensors"))
    with torch.no_grad():  # what the bf16-stored weights give in float32
        model.load_state_dict({k: v.to(torch.bfloat16).float() for k, v in sd.items()}, strict=False)
        tokens_bf16 = model.forward_features(x)
    save_file({"input": x.contiguous(), "tokens": tokens.contiguous(), "tokens_bf16_weights": tokens_bf16.contiguous()},
              str(OUT / "timm_eva_small_io.safetensors"))
    meta = {k: v for k, v in cfg.items() if k in ("img_size", "patch_size", "embed_dim", "depth", "num_heads",
                                                  "mlp_ratio")}
    meta["ln_eps"] = 1e-6
    meta["keys"] = sorted(sd)
    (OUT / "timm_eva_small.json").write_text(json.dumps(meta, indent=1) + "\n")
    return tuple(tokens.shape)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    n = lavis_keys()
    shape = timm_small()
    total = sum(f.stat().st_size for f in OUT.iterdir())
    for f in OUT.iterdir():
        f.chmod(0o644)
    print(f"lavis keys: {n}; timm tokens {shape}; {total} bytes in {OUT}")


if __name__ == "__main__":
    main()
