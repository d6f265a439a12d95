"""Independent reference for src/eval/metrics.h, from scipy (and MONAI when importable).

Usage: reference_metrics.py PRED.u8 GT.u8 NX NY NZ SX SY SZ [--monai]
PRED/GT: raw uint8 masks, x fastest (medinfer's voxel order). Prints one JSON object with
the same definitions as metrics.h: surface = mask XOR binary_erosion(6-connected cross,
border_value=0); directed distances from scipy.ndimage.distance_transform_edt(sampling=...)
of the other surface's complement; hd95 = max of the two directed 95th percentiles; msd =
mean of both directed sets pooled. With --monai also monai.metrics' figures, or
"monai": {"skipped": reason} when monai cannot be imported.
"""
import json
import sys

import numpy as np
from scipy import ndimage


def load(path, shape):
    nx, ny, nz = shape
    return np.fromfile(path, dtype=np.uint8).reshape(nz, ny, nx).transpose(2, 1, 0) != 0


def surface(mask):
    cross = ndimage.generate_binary_structure(3, 1)
    return mask ^ ndimage.binary_erosion(mask, structure=cross, border_value=0)


def directed(from_surface, to_surface, spacing):
    dist = ndimage.distance_transform_edt(~to_surface, sampling=spacing)
    return dist[from_surface]


def scipy_metrics(pred, gt, spacing):
    tp = int(np.count_nonzero(pred & gt))
    npred, ngt = int(np.count_nonzero(pred)), int(np.count_nonzero(gt))
    out = {
        "pred_voxels": npred,
        "gt_voxels": ngt,
        "true_positives": tp,
        "dice": 2 * tp / (npred + ngt),
        "iou": tp / (npred + ngt - tp),
    }
    sp, sg = surface(pred), surface(gt)
    p2g, g2p = directed(sp, sg, spacing), directed(sg, sp, spacing)
    pooled = np.concatenate([p2g, g2p])
    out.update(
        pred_surface_voxels=int(sp.sum()),
        gt_surface_voxels=int(sg.sum()),
        hd=float(pooled.max()),
        hd95=float(max(np.percentile(p2g, 95), np.percentile(g2p, 95))),
        hd95_pooled=float(np.percentile(pooled, 95)),
        msd=float(pooled.mean()),
    )
    return out


def monai_metrics(pred, gt, spacing):
    try:
        import torch
        from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance
    except Exception as e:  # noqa: BLE001 - any import failure means "not available"
        return {"skipped": f"monai not importable: {e}"}
    p = torch.from_numpy(pred[None, None].astype(np.float32))
    g = torch.from_numpy(gt[None, None].astype(np.float32))
    sp = [float(s) for s in spacing]
    hd95 = compute_hausdorff_distance(p, g, include_background=True, percentile=95, spacing=sp)
    hd = compute_hausdorff_distance(p, g, include_background=True, spacing=sp)
    msd = compute_average_surface_distance(p, g, include_background=True, symmetric=True, spacing=sp)
    import monai

    return {
        "version": monai.__version__,
        "hd95": float(hd95.item()),
        "hd": float(hd.item()),
        "msd": float(msd.item()),
    }


def main():
    args = sys.argv[1:]
    use_monai = "--monai" in args
    args = [a for a in args if a != "--monai"]
    shape = tuple(int(a) for a in args[2:5])
    spacing = tuple(float(a) for a in args[5:8])
    pred, gt = load(args[0], shape), load(args[1], shape)
    out = scipy_metrics(pred, gt, spacing)
    if use_monai:
        out["monai"] = monai_metrics(pred, gt, spacing)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
