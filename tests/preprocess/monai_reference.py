"""MONAI reference outputs for tests/preprocess/monai_parity_test.cc.

Usage: monai_reference.py DIR
DIR holds image.npy (float32 HU, C order (nz, ny, nx), i.e. medinfer's Volume memory),
labels.npy (uint8, same grid) and affine.json ({"ras": 4x4}, the Volume's voxel-to-RAS
matrix). For every case below the MONAI (1.6.1) transform runs on the (1, nx, ny, nz) array
with that affine; DIR/out/<case>.npy gets the result in the same (nz, ny, nx) memory order
and DIR/out/<case>.json its affine (RAS). The C++ test runs medinfer's op and compares.
"""
import json
import os
import sys

import numpy as np
import torch
from monai.data import MetaTensor
from monai import transforms as T


def load(d):
    img = np.load(os.path.join(d, "image.npy")).transpose(2, 1, 0).copy()  # -> (x, y, z)
    lab = np.load(os.path.join(d, "labels.npy")).transpose(2, 1, 0).copy()
    with open(os.path.join(d, "affine.json")) as f:
        affine = torch.tensor(json.load(f)["ras"], dtype=torch.float64)
    return img, lab, affine


def meta(arr, affine):
    return MetaTensor(torch.from_numpy(arr)[None], affine=affine.clone())


def save(out_dir, name, t, affine=None):
    arr = t.as_tensor() if isinstance(t, MetaTensor) else t
    arr = arr.detach().cpu().numpy()[0]
    np.save(os.path.join(out_dir, name + ".npy"), np.ascontiguousarray(arr.transpose(2, 1, 0)))
    if affine is None and isinstance(t, MetaTensor):
        affine = t.affine
    info = {"dtype": str(arr.dtype)}
    if affine is not None:
        info["ras"] = np.asarray(affine, dtype=np.float64).tolist()
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump(info, f)


def resize_per_slice(img, size, mode):
    # MONAI Resize on each axis-2 slice as a 2-D (1, nx, ny) image.
    kw = {"align_corners": False} if mode == "bilinear" else {}
    r = T.Resize(spatial_size=size, mode=mode, **kw)
    slices = [r(torch.from_numpy(img[:, :, k])[None]) for k in range(img.shape[2])]
    return torch.stack([s.as_tensor() if isinstance(s, MetaTensor) else s for s in slices], -1)


def main():
    d = sys.argv[1]
    out = os.path.join(d, "out")
    os.makedirs(out, exist_ok=True)
    img, lab, affine = load(d)
    hu = meta(img, affine)
    unit = T.ScaleIntensityRange(a_min=-1000, a_max=400, b_min=0.0, b_max=1.0, clip=True)(hu)
    labels = meta(lab, affine)

    save(out, "clip", torch.clamp(torch.from_numpy(img), -1000, 400)[None], affine)
    save(out, "scale_range_clip", unit)
    save(out, "scale_range_noclip",
         T.ScaleIntensityRange(a_min=-1000, a_max=400, b_min=-1.0, b_max=1.0, clip=False)(hu))
    save(out, "zscore_own", T.NormalizeIntensity()(hu))
    save(out, "zscore_given", T.NormalizeIntensity(subtrahend=-300.0, divisor=400.0)(hu))
    save(out, "minmax", T.ScaleIntensity(minv=0.0, maxv=1.0)(hu))
    save(out, "minmax_m1p1", T.ScaleIntensity(minv=-1.0, maxv=1.0)(hu))

    save(out, "spacing_linear", T.Spacing(pixdim=(1.5, 1.3, 2.2), mode="bilinear")(unit))
    save(out, "spacing_linear_up", T.Spacing(pixdim=(0.7, 0.8, 1.0), mode="bilinear")(unit))
    save(out, "spacing_nearest", T.Spacing(pixdim=(1.5, 1.3, 2.2), mode="nearest")(labels))

    save(out, "resize_linear", resize_per_slice(unit.as_tensor()[0].numpy(), (96, 150), "bilinear")
         , T.Resize((96, 150, img.shape[2]), mode="trilinear", align_corners=False)(unit).affine)
    save(out, "resize_nearest", resize_per_slice(lab, (96, 150), "nearest"),
         T.Resize((96, 150, img.shape[2]), mode="nearest")(labels).affine)

    save(out, "pad", T.SpatialPad(spatial_size=(171, 140, 37), value=-1024)(hu))
    save(out, "center_crop", T.CenterSpatialCrop(roi_size=(101, 64, 17))(hu))
    save(out, "crop_or_pad", T.ResizeWithPadOrCrop(spatial_size=(150, 141, 40))(hu))
    save(out, "pad_multiple", T.DivisiblePad(k=(16, 24, 7))(hu))

    for codes in ("RAS", "PIR", "SLA"):
        save(out, "orient_" + codes, T.Orientation(axcodes=codes)(hu))
    save(out, "flip_0", T.Flip(spatial_axis=0)(hu))
    save(out, "flip_12", T.Flip(spatial_axis=(1, 2))(hu))

    # A whole package's preprocessing (preprocess() in C++): orientation, spacing, steps.
    pipeline = T.Compose([
        T.Orientation(axcodes="RAS"),
        T.Spacing(pixdim=(1.5, 1.3, 2.2), mode="bilinear"),
        T.ThresholdIntensity(threshold=-1000, above=True, cval=-1000),
        T.ThresholdIntensity(threshold=400, above=False, cval=400),
        T.ScaleIntensityRange(a_min=-1000, a_max=400, b_min=0.0, b_max=1.0, clip=True),
        T.NormalizeIntensity(),
        T.ScaleIntensity(minv=0.0, maxv=1.0),
    ])
    save(out, "pipeline", pipeline(meta(img.copy(), affine)))


if __name__ == "__main__":
    main()
