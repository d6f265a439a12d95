#!/usr/bin/env python3
"""Trains models/lung-ct-2d: a small 2-D UNet for right (1) and left (2) lung on CT slices.

Input: the .npz of pack_dataset.py (already preprocessed as the model package does at
inference: LPS, HU -1000..400 -> 0..1, 256x256). Loss: cross-entropy + soft Dice (labels 1
and 2). Augmentation: rotation, anisotropic scaling, shifts, resolution loss, intensity jitter; never a left-right
flip (it would swap the sides). Fixed seed; cuDNN deterministic.

Writes OUT/model.onnx (opset 17, input "image" [N, 1, 256, 256], output "logits"
[N, 3, 256, 256], dynamic batch, exported with the TorchScript exporter so only standard ops
appear), checks it with onnxruntime against torch, and writes OUT/metrics.json (per-epoch
loss, IoU/Dice per side on the 4D-Lung validation and the TotalSegmentator check slices, on
the 256x256 grid, and the training time).

Usage: train_lung_unet.py --data DIR/lung_data.npz --out DIR [--epochs 40] [--seed 0]
                          [--limit N] [--batch 16]
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import platform
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FEATURES = (16, 32, 64, 128, 256)
CLASSES = 3
SIDES = {"right": 1, "left": 2}


class Block(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """Encoder 16-32-64-128-256 (max pooling), decoder with 2x2 transposed convolutions."""

    def __init__(self, features=FEATURES, classes: int = CLASSES):
        super().__init__()
        self.down = nn.ModuleList()
        cin = 1
        for f in features:
            self.down.append(Block(cin, f))
            cin = f
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for f in reversed(features[:-1]):
            self.up.append(nn.ConvTranspose2d(cin, f, 2, stride=2))
            self.dec.append(Block(2 * f, f))
            cin = f
        self.head = nn.Conv2d(cin, classes, 1)

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips[:-1])):
            x = dec(torch.cat([up(x), skip], dim=1))
        return self.head(x)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def augment(images: torch.Tensor, labels: torch.Tensor, gen: torch.Generator):
    """Geometric and intensity augmentation; never a left-right flip (it would swap sides).

    Per image: rotation +-15 degrees, scale 0.7..1.3 per axis (anisotropic: slices of other
    fields of view and aspect ratios are resized to the same 256x256), shift +-10%; with
    probability 0.3 a loss of in-plane resolution (down by 1.5-4x, back up bilinearly: thick
    reconstructions, 3 mm resampled data); gain +-10%, bias +-0.05, gamma 0.8..1.25, noise.
    """
    n = images.shape[0]
    dev = images.device

    def uniform(lo, hi, *shape):
        return lo + torch.rand(n, *shape, generator=gen) * (hi - lo)

    angle = uniform(-math.radians(15), math.radians(15))
    sx, sy = uniform(0.7, 1.3), uniform(0.7, 1.3)
    tx, ty = uniform(-0.1, 0.1), uniform(-0.1, 0.1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos / sx, -sin / sx, tx], 1),
                         torch.stack([sin / sy, cos / sy, ty], 1)], 1).to(dev)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                           align_corners=False)
    labels = F.grid_sample(labels[:, None].float(), grid, mode="nearest", padding_mode="zeros",
                           align_corners=False)[:, 0].long()
    size = images.shape[-1]
    low = (torch.rand(n, generator=gen) < 0.3).tolist()
    factors = uniform(1.5, 4.0).tolist()
    for i in range(n):
        if low[i]:
            small = max(16, int(size / factors[i]))
            down = F.interpolate(images[i:i + 1], size=(small, small), mode="area")
            images[i:i + 1] = F.interpolate(down, size=(size, size), mode="bilinear",
                                            align_corners=False)
    gain = (1.0 + uniform(-0.1, 0.1, 1, 1, 1)).to(dev)
    bias = uniform(-0.05, 0.05, 1, 1, 1).to(dev)
    gamma = torch.exp(uniform(math.log(0.8), math.log(1.25), 1, 1, 1)).to(dev)
    noise = torch.randn(images.shape, generator=gen).to(dev) * 0.01
    images = images.clamp(0.0, 1.0) ** gamma
    return (images * gain + bias + noise).clamp(0.0, 1.0), labels


def loss_fn(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    ce = F.cross_entropy(logits, labels)
    prob = logits.float().softmax(1)[:, 1:]
    onehot = F.one_hot(labels, CLASSES).permute(0, 3, 1, 2)[:, 1:].float()
    inter = (prob * onehot).sum((0, 2, 3))
    denom = prob.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    dice = (2 * inter + 1.0) / (denom + 1.0)
    return ce + (1.0 - dice.mean())


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, device, batch: int = 32) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(images[i:i + batch].astype(np.float32))[:, None].to(device)
        out.append(model(x).argmax(1).to(torch.uint8).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0,) + images.shape[1:], np.uint8)


def side_metrics(pred: np.ndarray, ref: np.ndarray) -> dict:
    """IoU and Dice per side over all slices of one series (the 256x256 grid)."""
    result = {}
    for side, value in SIDES.items():
        p, r = pred == value, ref == value
        inter, union, total = (p & r).sum(), (p | r).sum(), p.sum() + r.sum()
        result[side] = {"iou": float(inter / union) if union else 1.0,
                        "dice": float(2 * inter / total) if total else 1.0,
                        "pred_pixels": int(p.sum()), "ref_pixels": int(r.sum())}
    return result


def export_onnx(model: nn.Module, path: pathlib.Path, sample: np.ndarray) -> float:
    """Exports on the CPU in FP32 and returns max |onnxruntime - torch| on `sample`."""
    import onnxruntime as ort
    model = model.cpu().float().eval()
    dummy = torch.zeros(1, 1, 256, 256)
    torch.onnx.export(model, (dummy,), str(path), dynamo=False, opset_version=17,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=True)
    x = sample.astype(np.float32)[:, None]
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {"image": x})[0]
    return float(np.abs(got - ref).max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--data", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--limit", type=int, default=0, help="use the first N slices per split")
    args = parser.parse_args()

    seed_everything(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not args.data.is_file():
        print(f"{args.data}: no such file (run tools/train/pack_dataset.py)", file=sys.stderr)
        return 1
    data = np.load(args.data)
    limit = slice(None, args.limit or None)
    train_x = torch.from_numpy(data["train_images"][limit].astype(np.float32))[:, None]
    train_y = torch.from_numpy(data["train_labels"][limit].astype(np.int64))
    train_x, train_y = train_x.to(device), train_y.to(device)
    model = UNet().to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = max(1, math.ceil(len(train_x) / args.batch))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(args.seed)
    amp = device.type == "cuda"
    history = []
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x), generator=gen).to(device)
        total, count = 0.0, 0
        for i in range(0, len(order), args.batch):
            idx = order[i:i + args.batch]
            x, y = augment(train_x[idx], train_y[idx], gen)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = loss_fn(model(x.contiguous(memory_format=torch.channels_last)), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(idx)
            count += len(idx)
        history.append(total / count)
        print(f"epoch {epoch + 1}/{args.epochs} loss {history[-1]:.4f} "
              f"({time.time() - start:.1f} s)", flush=True)
    train_seconds = time.time() - start

    metrics = {"epochs": args.epochs, "seed": args.seed, "batch": args.batch, "lr": args.lr,
               "train_slices": len(train_x), "train_seconds": round(train_seconds, 1),
               "device": torch.cuda.get_device_name() if amp else platform.processor() or "cpu",
               "torch": torch.__version__, "loss": [round(v, 5) for v in history]}
    for split, name in (("val", "4dlung-113 (classical labels)"),
                        ("check", "totalseg-example (TotalSegmentator lobes merged)")):
        images, labels = data[f"{split}_images"][limit], data[f"{split}_labels"][limit]
        metrics[split] = {"series": name, "slices": len(images),
                          "sides": side_metrics(predict(model, images, device), labels)}
        for side, m in metrics[split]["sides"].items():
            print(f"{split} {side}: IoU {m['iou']:.4f} Dice {m['dice']:.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / "model.onnx"
    diff = export_onnx(model, onnx_path, data["val_images"][limit][:4])
    metrics["onnx"] = {"bytes": onnx_path.stat().st_size, "max_abs_diff_vs_torch": diff}
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 2**20:.2f} MiB), "
          f"onnxruntime vs torch max |diff| {diff:.2e}")
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if diff > 1e-3:
        print("ONNX export disagrees with torch", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
