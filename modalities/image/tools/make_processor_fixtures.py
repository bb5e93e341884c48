#!/usr/bin/env python3
"""Reference fixtures for the image processor (modalities/image/src/resize.cpp, image_processor.cpp).

Source images of several sizes and PIL modes (≥ 4x downscales, ≥ 4x upscales, odd centre-crop
offsets), and what PIL + torchvision make of them:
  eval_<name>.png     Resize(224, BICUBIC) + CenterCrop(224)          (xib's default eval)
  squash_<name>.png   Resize((224, 224), BICUBIC)                     (LAVIS BlipImageEvalProcessor)
  crop_<name>.png     F.resized_crop(img, top, left, h, w, [224, 224], BICUBIC) with the box in
                      expected.json (RandomResizedCrop's geometry for a given draw)
  norm32_big_rgb.f32  Resize(32) + CenterCrop(32) + ToTensor + Normalize(EVA-CLIP mean/std),
                      float32 [3, 32, 32], to check the float output end to end.
Images are opened as torchvision sees them in LAVIS: Image.open(f).convert("RGB").

Run (deterministic):
    /var/tmp/xib-torch2/bin/python modalities/image/tools/make_processor_fixtures.py
"""
import json
import pathlib

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F

OUT = pathlib.Path(__file__).resolve().parents[1] / "tests/data/processor"
BICUBIC = InterpolationMode.BICUBIC
EVA_MEAN = (0.48145466, 0.4578275, 0.40821073)
EVA_STD = (0.26862954, 0.26130258, 0.27577711)


def scene(w, h, seed):
    """Smooth shading plus hard edges (rings show whether the resampling kernel matches)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        fx, fy, ph = rng.uniform(1, 4), rng.uniform(1, 4), rng.uniform(0, 6)
        img[..., c] = 127 + 100 * np.sin(fx * 2 * np.pi * x / w + ph) * np.cos(fy * 2 * np.pi * y / h)
    for _ in range(6):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        x1, y1 = x0 + rng.integers(w // 10, w // 3), y0 + rng.integers(h // 10, h // 3)
        img[y0:y1, x0:x1] = rng.integers(0, 256, 3)
    img[::max(h // 16, 2), :] = 255  # thin lines
    img = np.round(img / 32) * 32  # posterised: compresses well, keeps hard edges
    return np.clip(img, 0, 255).astype(np.uint8)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for f in OUT.iterdir():
        f.unlink()
    sources = {
        "big_rgb.png": Image.fromarray(scene(1200, 900, 1), "RGB"),  # 4.02x down
        "tall_l.png": Image.fromarray(scene(230, 1000, 2), "RGB").convert("L"),  # portrait
        "small_rgba.png": Image.fromarray(scene(50, 37, 3), "RGB").convert("RGBA"),  # 6x up
        "odd_p.png": Image.fromarray(scene(301, 225, 4), "RGB").convert("P", palette=Image.Palette.ADAPTIVE),
        "exact.png": Image.fromarray(scene(224, 224, 5), "RGB"),
    }
    boxes = {"big_rgb.png": (40, 61, 851, 1013), "tall_l.png": (100, 3, 800, 220), "small_rgba.png": (2, 5, 33, 40)}
    meta = {"torchvision": torchvision.__version__, "size": 224, "images": {}}
    for name, im in sources.items():
        if name == "small_rgba.png":
            a = np.asarray(im).copy()
            a[..., 3] = np.random.default_rng(9).integers(0, 256, a.shape[:2])
            im = Image.fromarray(a, "RGBA")
        im.save(OUT / name, optimize=True)
        rgb = Image.open(OUT / name).convert("RGB")
        stem = name.rsplit(".", 1)[0]
        ev = transforms.Compose([transforms.Resize(224, interpolation=BICUBIC), transforms.CenterCrop(224)])(rgb)
        ev.save(OUT / f"eval_{stem}.png", optimize=True)
        entry = {"width": im.width, "height": im.height, "mode": im.mode}
        if name in ("big_rgb.png", "odd_p.png"):  # a few of each keep the fixtures small
            transforms.Resize((224, 224), interpolation=BICUBIC)(rgb).save(OUT / f"squash_{stem}.png", optimize=True)
            entry["squash"] = True
        if name in boxes:
            top, left, h, w = boxes[name]
            F.resized_crop(rgb, top, left, h, w, [224, 224], BICUBIC).save(OUT / f"crop_{stem}.png", optimize=True)
            entry["crop"] = {"top": top, "left": left, "height": h, "width": w}
        meta["images"][name] = entry
    rgb = Image.open(OUT / "big_rgb.png").convert("RGB")
    t = transforms.Compose([transforms.Resize(32, interpolation=BICUBIC), transforms.CenterCrop(32),
                            transforms.ToTensor(), transforms.Normalize(EVA_MEAN, EVA_STD)])(rgb)
    assert t.shape == (3, 32, 32) and t.dtype == torch.float32
    (OUT / "norm32_big_rgb.f32").write_bytes(t.numpy().astype("<f4").tobytes())
    (OUT / "expected.json").write_text(json.dumps(meta, indent=1) + "\n")
    total = sum(f.stat().st_size for f in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
