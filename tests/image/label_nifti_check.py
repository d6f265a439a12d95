"""Checks that a label NIfTI overlays a CT NIfTI exactly (tests/image/label_nifti_test.cc).

Both headers are read with nibabel: same shape, identical sform/qform (codes and every
field), and the labels agree voxel for voxel with the synthetic rule the C++ test used,
recomputed here from the CT file: 1 where HU < -400, 2 where HU > 300, else 0.
Usage: label_nifti_check.py CT.nii.gz LABELS.nii.gz EXPECTED_ONES EXPECTED_TWOS
"""
import sys

import nibabel as nib
import numpy as np


def main():
    ct, lab = nib.load(sys.argv[1]), nib.load(sys.argv[2])
    ones, twos = int(sys.argv[3]), int(sys.argv[4])
    errors = []
    if ct.shape != lab.shape:
        errors.append(f"shape {lab.shape} != CT {ct.shape}")
    for field in ("sform_code", "qform_code", "quatern_b", "quatern_c", "quatern_d", "qoffset_x",
                  "qoffset_y", "qoffset_z", "srow_x", "srow_y", "srow_z", "pixdim", "dim"):
        a, b = np.asarray(ct.header[field]), np.asarray(lab.header[field])
        if not np.array_equal(a, b):
            errors.append(f"{field}: labels {b} != CT {a}")
    if not np.array_equal(ct.get_sform(), lab.get_sform()) or not np.array_equal(
            ct.get_qform(), lab.get_qform()):
        errors.append("affines differ")
    if lab.get_data_dtype() != np.uint8:
        errors.append(f"label dtype {lab.get_data_dtype()}")
    hu = np.asarray(ct.dataobj).astype(np.float64)
    want = np.where(hu < -400, 1, np.where(hu > 300, 2, 0))
    got = np.asarray(lab.dataobj)
    if not errors and not np.array_equal(got, want):
        errors.append(f"{int((got != want).sum())} voxels disagree with the CT")
    if int((want == 1).sum()) != ones or int((want == 2).sum()) != twos:
        errors.append(f"CT gives {(want == 1).sum()}/{(want == 2).sum()} voxels, "
                      f"medinfer {ones}/{twos}")
    if errors:
        print("FAIL:", "; ".join(errors))
        sys.exit(1)
    print(f"OK {ones} + {twos} label voxels on the CT grid")


if __name__ == "__main__":
    main()
