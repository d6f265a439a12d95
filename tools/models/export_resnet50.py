#!/usr/bin/env python3
"""torchvision ResNet-50 (random weights) as ONNX for the model benchmark, checked against torch.

torchvision.models.resnet50(weights=None), eval mode, weights from torch.manual_seed(seed);
input "input" float32 [N, 3, S, S] with N dynamic (S = 224 by default), output "output"
[N, 1000]. Exported with the TorchScript exporter (dynamo=False) where this torch has it,
else the dynamo exporter; opset 17 by default; every initializer inside the one file.
Verified with onnx.checker and, when onnxruntime is installed, against torch at batch 1 and 2
(max |ort - torch| / max |torch|). Prints parameters and GFLOP (2 per multiply-add of the
convolutions and the fully connected layer, counted with forward hooks).

Usage:
  python tools/models/export_resnet50.py --out resnet50.onnx [--size 224] [--opset 17]
                                         [--seed 0] [--json]
"""

import argparse
import json
import os
import sys


def count_macs(model, example):
    import torch

    macs = [0]

    def conv_hook(m, _inp, out):
        k = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]  # Cin/groups * kh * kw
        macs[0] += out.numel() * k

    def fc_hook(m, _inp, out):
        macs[0] += out.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(fc_hook))
    with torch.no_grad():
        model(example)
    for h in hooks:
        h.remove()
    return macs[0] / example.shape[0]


def export(model, example, path, opset):
    """TorchScript exporter (dynamo=False) where this torch has it, else dynamo."""
    import inspect

    import torch

    common = dict(input_names=["input"], output_names=["output"], opset_version=opset)
    axes = {"input": {0: "batch"}, "output": {0: "batch"}}
    if "dynamo" not in inspect.signature(torch.onnx.export).parameters:
        torch.onnx.export(model, (example,), path, dynamic_axes=axes, **common)
        return "torchscript"
    try:
        torch.onnx.export(model, (example,), path, dynamo=False, do_constant_folding=True,
                          dynamic_axes=axes, **common)
        return "torchscript"
    except Exception as e:  # noqa: BLE001 - a torch whose TorchScript exporter is gone
        print(f"dynamo=False failed ({type(e).__name__}: {e}); using dynamo", file=sys.stderr)
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.onnx.export(model, (example,), dynamo=True, external_data=False,
                                dynamic_shapes=({0: batch},), optimize=True, **common)
    program.save(path)
    return "dynamo"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    a = ap.parse_args()

    import numpy as np
    import onnx
    import torch
    import torchvision

    torch.manual_seed(a.seed)
    model = torchvision.models.resnet50(weights=None).eval()
    example = torch.randn(1, 3, a.size, a.size)
    params = sum(p.numel() for p in model.parameters())
    gflop = 2 * count_macs(model, example) / 1e9
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with torch.no_grad():
        exporter = export(model, example, a.out, a.opset)
    m = onnx.load(a.out, load_external_data=True)
    onnx.checker.check_model(m)
    for f in os.listdir(os.path.dirname(os.path.abspath(a.out))):
        if f.startswith(os.path.basename(a.out)) and f != os.path.basename(a.out):
            os.remove(os.path.join(os.path.dirname(os.path.abspath(a.out)), f))  # .data file
    onnx.save(m, a.out, save_as_external_data=False)

    errors = {}
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    if ort is not None:
        sess = ort.InferenceSession(a.out, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        for batch in (1, 2):
            x = torch.randn(batch, 3, a.size, a.size, generator=torch.Generator().manual_seed(1))
            with torch.no_grad():
                want = model(x).numpy()
            got = sess.run(None, {name: x.numpy()})[0]
            errors[batch] = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))
        worst = max(errors.values())
        if worst > 1e-3:
            raise SystemExit(f"{a.out}: onnxruntime differs from torch by {worst:.3g} (relative)")
    summary = {"file": a.out, "model": "torchvision resnet50 (weights=None)", "size": a.size,
               "opset": a.opset, "exporter": exporter, "params": params,
               "gflop_per_image": gflop, "bytes": os.path.getsize(a.out),
               "torch": torch.__version__, "torchvision": torchvision.__version__,
               "onnx": onnx.__version__,
               "ort_vs_torch_max_rel": errors or "not checked (no onnxruntime)"}
    if a.json:
        print(json.dumps(summary))
    else:
        print(f"{a.out}: {params:,} parameters ({params / 1e6:.2f} M), {gflop:.2f} GFLOP per "
              f"{a.size}x{a.size} image, opset {a.opset}, {exporter} exporter, "
              f"onnxruntime vs torch max rel {summary['ort_vs_torch_max_rel']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
