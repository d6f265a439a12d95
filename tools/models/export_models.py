#!/usr/bin/env python3
"""Exports small MONAI and torchvision networks to ONNX for medinfer's parity tests.

Each network is built in a small configuration (few channels, 32^3 volumes or 64^2 images)
with random weights from a fixed seed, put in eval mode (batch norm uses running statistics,
dropout is off) and exported with torch.onnx with a dynamic batch axis. The files go to
OUT/<name>.onnx (weights inside the file, no external data) and OUT/manifest.json says for
each: input name, shape and dtype, output names, the constructor and its arguments, the
parameter count, the package versions, the exporter used, and the largest relative
difference between PyTorch and ONNX Runtime on a random input when onnxruntime is installed.

Needs torch, torchvision, monai (pure python; `pip install --no-deps monai`), onnx and, for
the default dynamo exporter, onnxscript. medinfer's tests need none of these: they read the
committed files from tests/fixtures/models/.

Usage:
  python tools/models/export_models.py --out tests/fixtures/models [--only unet_3d,resnet18_w16]
                                       [--opset 18] [--exporter dynamo|torchscript]
"""

import argparse
import hashlib
import importlib.metadata
import inspect
import json
import os
import platform
import sys
import tempfile
import traceback

SEED = 0


def versions():
    out = {"python": platform.python_version()}
    for pkg in ("torch", "torchvision", "monai", "onnx", "onnxscript", "onnxruntime", "numpy"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def supported_kwargs(cls, kwargs):
    """Drops constructor arguments this version of the class does not take (MONAI renamed
    and removed a few between releases, e.g. SwinUNETR's img_size)."""
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in params}


def small_resnet(block_name, layers, widths, in_channels=3, num_classes=10):
    """torchvision's ResNet with its own BasicBlock/Bottleneck and _make_layer, at reduced
    widths (torchvision hard-codes 64-128-256-512; resnet18 itself is 45 MB as ONNX)."""
    import torch.nn as nn
    from torchvision.models import resnet as tv

    block = getattr(tv, block_name)
    model = tv.ResNet(block, layers, num_classes=num_classes)
    model.inplanes = widths[0]
    model.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
    model.bn1 = nn.BatchNorm2d(widths[0])
    model.layer1 = model._make_layer(block, widths[0], layers[0])
    model.layer2 = model._make_layer(block, widths[1], layers[1], stride=2)
    model.layer3 = model._make_layer(block, widths[2], layers[2], stride=2)
    model.layer4 = model._make_layer(block, widths[3], layers[3], stride=2)
    model.fc = nn.Linear(widths[3] * block.expansion, num_classes)
    return model


# name -> (package, class or factory, kwargs, input shape without batch)
MODELS = {
    "unet_3d": ("monai", "UNet",
                dict(spatial_dims=3, in_channels=1, out_channels=2, channels=(8, 16, 32, 64),
                     strides=(2, 2, 2), num_res_units=2), (1, 32, 32, 32)),
    "basicunet_3d": ("monai", "BasicUNet",
                     dict(spatial_dims=3, in_channels=1, out_channels=2,
                          features=(8, 8, 16, 32, 64, 8)), (1, 32, 32, 32)),
    "segresnet_3d": ("monai", "SegResNet",
                     dict(spatial_dims=3, init_filters=8, in_channels=1, out_channels=2,
                          blocks_down=(1, 2, 2, 2), blocks_up=(1, 1, 1)), (1, 32, 32, 32)),
    "dynunet_3d": ("monai", "DynUNet",
                   dict(spatial_dims=3, in_channels=1, out_channels=2,
                        kernel_size=(3, 3, 3, 3), strides=(1, 2, 2, 2),
                        upsample_kernel_size=(2, 2, 2), filters=(8, 16, 32, 64),
                        norm_name="instance", res_block=True), (1, 32, 32, 32)),
    "attentionunet_2d": ("monai", "AttentionUnet",
                         dict(spatial_dims=2, in_channels=1, out_channels=2,
                              channels=(8, 16, 32, 64), strides=(2, 2, 2)), (1, 64, 64)),
    "unetr_3d": ("monai", "UNETR",
                 dict(in_channels=1, out_channels=2, img_size=(32, 32, 32), feature_size=8,
                      hidden_size=48, mlp_dim=96, num_heads=4, proj_type="conv",
                      norm_name="instance", res_block=True, dropout_rate=0.0, spatial_dims=3),
                 (1, 32, 32, 32)),
    # 2D: the smallest 3D SwinUNETR (feature_size 12, 64^3 so that the 1/32 bottleneck
    # keeps more than one voxel for instance norm) is about 4 M parameters, over the 5 MB
    # fixture limit.
    "swinunetr_2d": ("monai", "SwinUNETR",
                     dict(img_size=(64, 64), in_channels=1, out_channels=2,
                          depths=(1, 1, 1, 1), num_heads=(3, 6, 12, 24), feature_size=12,
                          norm_name="instance", drop_rate=0.0, attn_drop_rate=0.0,
                          dropout_path_rate=0.0, normalize=True, use_checkpoint=False,
                          spatial_dims=2, use_v2=False), (1, 64, 64)),
    "resnet18_w16": ("torchvision", "small_resnet",
                     dict(block_name="BasicBlock", layers=(2, 2, 2, 2), widths=(16, 32, 64, 128),
                          in_channels=3, num_classes=10), (3, 64, 64)),
    "resnet50_w8": ("torchvision", "small_resnet",
                    dict(block_name="Bottleneck", layers=(3, 4, 6, 3), widths=(8, 16, 32, 64),
                         in_channels=3, num_classes=10), (3, 64, 64)),
}


def build(package, factory, kwargs):
    if package == "monai":
        import monai.networks.nets as nets

        cls = getattr(nets, factory)
        used = supported_kwargs(cls, kwargs)
        return cls(**used), used
    return small_resnet(**kwargs), dict(kwargs)


def export(model, example, path, opset, exporter):
    import torch

    dynamic_axes = {"input": {0: "batch"}, "output": {0: "batch"}}
    common = dict(input_names=["input"], output_names=["output"], opset_version=opset)
    if exporter == "dynamo":
        batch = torch.export.Dim("batch", min=1, max=64)
        program = torch.onnx.export(model, (example,), dynamo=True, external_data=False,
                                    dynamic_shapes=({0: batch},), optimize=True, **common)
        program.save(path)
    else:
        torch.onnx.export(model, (example,), path, dynamo=False, dynamic_axes=dynamic_axes,
                          do_constant_folding=True, **common)


def single_file(path):
    """Loads and re-saves with every initializer inside the file, checked."""
    import onnx

    model = onnx.load(path, load_external_data=True)
    onnx.checker.check_model(model)
    for f in os.listdir(os.path.dirname(path) or "."):
        if f.startswith(os.path.basename(path)) and f != os.path.basename(path):
            os.remove(os.path.join(os.path.dirname(path), f))  # dynamo's .data side file
    onnx.save(model, path, save_as_external_data=False)
    return model


def ort_difference(path, x, expected):
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:
        return None
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    return float(np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-30))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--only", default="", help="comma list of model names (default: all)")
    ap.add_argument("--opset", type=int, default=18)
    ap.add_argument("--exporter", choices=["dynamo", "torchscript"], default="dynamo",
                    help="torch.onnx path to try first; the other is tried when it fails")
    args = ap.parse_args()

    import numpy as np
    import torch

    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    names = [n for n in args.only.split(",") if n] or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; have {list(MODELS)}")

    manifest_path = os.path.join(args.out, "manifest.json")
    manifest = {"models": {}}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    manifest["generator"] = "tools/models/export_models.py"
    manifest["versions"] = versions()
    manifest["seed"] = SEED
    failures = []
    for name in names:
        package, factory, kwargs, shape = MODELS[name]
        torch.manual_seed(SEED)
        np.random.seed(SEED)
        try:
            model, used = build(package, factory, kwargs)
            model.eval()
            example = torch.randn((1,) + tuple(shape),
                                  generator=torch.Generator().manual_seed(SEED))
            with torch.no_grad():
                expected = model(example)
                if isinstance(expected, (list, tuple)):
                    expected = expected[0]
                expected = expected.numpy()
        except Exception:  # noqa: BLE001 - report and go on with the other models
            traceback.print_exc()
            failures.append(name)
            continue
        path = os.path.join(args.out, name + ".onnx")
        order = [args.exporter] + [e for e in ("dynamo", "torchscript") if e != args.exporter]
        used_exporter, errors = None, {}
        for exporter in order:
            try:
                with torch.no_grad():
                    export(model, example, path, args.opset, exporter)
                single_file(path)
                used_exporter = exporter
                break
            except Exception as e:  # noqa: BLE001 - report and try the other exporter
                errors[exporter] = f"{type(e).__name__}: {e}"[:2000]
                traceback.print_exc()
        if used_exporter is None:
            failures.append(name)
            print(f"{name}: export failed: {errors}", file=sys.stderr)
            continue
        import onnx

        onnx_model = onnx.load(path)
        opset = next(o.version for o in onnx_model.opset_import if o.domain in ("", "ai.onnx"))
        with open(path, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        entry = {
            "file": name + ".onnx",
            "source": f"{package}: {factory}",
            "kwargs": {k: (list(v) if isinstance(v, tuple) else v) for k, v in used.items()},
            "params": int(sum(p.numel() for p in model.parameters())),
            "input": {"name": onnx_model.graph.input[0].name, "shape": [-1] + list(shape),
                      "dtype": "float32"},
            "outputs": [o.name for o in onnx_model.graph.output],
            "opset": opset,
            "exporter": used_exporter,
            "exporter_errors": errors,
            "ops": sorted({n.op_type for n in onnx_model.graph.node}),
            "bytes": os.path.getsize(path),
            "sha256": sha,
            "torch_vs_onnxruntime_max_rel": ort_difference(path, example.numpy(), expected),
        }
        manifest["models"][name] = entry
        # Fixtures over 5 MB stay out of git; the parity test skips them (tests/fixtures/models/
        # README.md).
        entry["committed"] = entry["bytes"] <= 5_000_000
        if not entry["committed"]:
            print(f"{name}: {entry['bytes'] / 1e6:.2f} MB is over the 5 MB fixture limit",
                  file=sys.stderr)
        print(f"{name}: {entry['params']:,} params, {entry['bytes'] / 1e6:.2f} MB, "
              f"opset {opset}, {used_exporter}, ops {entry['ops']}, "
              f"torch vs ORT {entry['torch_vs_onnxruntime_max_rel']}")
    with tempfile.NamedTemporaryFile("w", dir=args.out, delete=False) as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(f.name, manifest_path)
    if failures:
        print(f"failed: {failures}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
