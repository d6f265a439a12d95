"""The classical lung label maker (tools/train/lung_labels.py) on real CT.

Checked against references the method does not use: the patient coordinates from the DICOM
geometry (sides), the air outside the patient found as the 3-D component of air that touches
the volume's border (outside body), anatomical volume ranges, and the TotalSegmentator v2
lobes (model-made) of the TotalSegmentator example (agreement per side, and no overlap with
its stomach and bowel, whose gas the method must reject).

Shared data is found through MEDINFER_SHARED_DATA; missing data fails under CI=true and
skips otherwise.
"""

from __future__ import annotations

import os
import pathlib
import sys
import unittest

import numpy as np
from scipy import ndimage as ndi

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "train"))
import lung_io  # noqa: E402
import lung_labels  # noqa: E402
import make_lung_labels  # noqa: E402

DATA = pathlib.Path(os.environ.get("MEDINFER_SHARED_DATA", ROOT.parent / "shared" / "data"))
TOTALSEG_GAS = (6, 18, 19, 20)  # stomach, small bowel, duodenum, colon (TotalSegmentator v2)


def require(path: pathlib.Path) -> None:
    if not path.exists():
        if os.environ.get("CI") == "true":
            raise AssertionError(f"missing shared data: {path}")
        raise unittest.SkipTest(f"shared data not present: {path}")


def world_x(volume: lung_io.Volume, mask: np.ndarray) -> float:
    """Mean LPS x (mm, + = patient left) of the voxels of `mask`."""
    idx = np.argwhere(mask).mean(axis=0)
    ras = volume.affine @ np.append(idx, 1.0)
    return -float(ras[0])


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2.0 * (a & b).sum() / (a.sum() + b.sum()))


class FourDLungTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require(DATA / "ct/4dlung-113/ct")
        cls.ct = make_lung_labels.load_ct(DATA, "4dlung-113")
        cls.result = lung_labels.lung_labels(cls.ct.data, cls.ct.spacing)
        cls.labels = cls.result.labels

    def test_two_lungs_on_the_patients_sides(self):
        right, left = self.labels == lung_labels.RIGHT, self.labels == lung_labels.LEFT
        self.assertTrue(right.any() and left.any(), self.result.notes)
        # Patient right is -x in LPS, whatever the voxel order of the file.
        body_x = world_x(self.ct, self.result.body)
        self.assertLess(world_x(self.ct, right), body_x - 40.0)
        self.assertGreater(world_x(self.ct, left), body_x + 40.0)
        # Every slice's right-lung voxels lie right of its left-lung voxels' centre.
        for z in range(self.labels.shape[2]):
            r, l = right[:, :, z], left[:, :, z]
            if r.sum() > 100 and l.sum() > 100:
                self.assertLess(np.argwhere(r)[:, 0].mean(), np.argwhere(l)[:, 0].mean(), z)

    def test_volumes_plausible(self):
        volumes = lung_labels.side_volumes_ml(self.labels, self.ct.spacing)
        # Adult lungs hold about 1.5-3.5 L each at full inspiration; 4D-Lung is free breathing
        # and the heart makes the left one smaller, so allow 0.6-4 L per side.
        for side, ml in volumes.items():
            self.assertGreater(ml, 600.0, side)
            self.assertLess(ml, 4000.0, side)

    def test_no_label_outside_the_body(self):
        air = self.ct.data < -500.0
        lab, _ = ndi.label(air)
        border = np.unique(np.concatenate([
            lab[0].ravel(), lab[-1].ravel(), lab[:, 0].ravel(), lab[:, -1].ravel()]))
        outside = np.isin(lab, border[border > 0])
        self.assertTrue(outside.any())
        self.assertEqual(int((outside & (self.labels > 0)).sum()), 0)

    def test_trachea_not_labelled(self):
        # Top 30 mm of the scan: the trachea runs at the body's left-right centre, the lung
        # apices lie lateral to it. No label within 10 mm of that centre line.
        n_top = int(round(30.0 / self.ct.spacing[2]))
        top = slice(self.labels.shape[2] - n_top, None)
        xs = np.argwhere(self.result.body)[:, 0]
        centre = 0.5 * (xs.min() + xs.max())
        half = int(round(10.0 / self.ct.spacing[0]))
        band = self.labels[int(centre) - half:int(centre) + half + 1, :, top]
        self.assertTrue((self.ct.data[int(centre) - half:int(centre) + half + 1, :, top]
                         < -900).any(), "no trachea air at the centre line")
        self.assertEqual(int((band > 0).sum()), 0)


class TotalSegmentatorExampleTest(unittest.TestCase):
    """Classical method vs the model-made TotalSegmentator lobes (lung bases, 3 mm)."""

    @classmethod
    def setUpClass(cls):
        require(DATA / make_lung_labels.TOTALSEG_LOBES)
        cls.ct = make_lung_labels.load_ct(DATA, "totalseg-example")
        cls.labels = lung_labels.lung_labels(cls.ct.data, cls.ct.spacing).labels
        cls.reference = make_lung_labels.totalseg_sides(DATA, cls.ct)
        cls.lobes = lung_io.read_nifti(DATA / make_lung_labels.TOTALSEG_LOBES, np.int16).data

    def test_dice_per_side_against_totalsegmentator(self):
        for value in (lung_labels.RIGHT, lung_labels.LEFT):
            self.assertGreaterEqual(dice(self.labels == value, self.reference == value), 0.9,
                                    value)

    def test_totalsegmentator_sides_follow_patient_x(self):
        # The lobe-to-side merge (12-14 right, 10-11 left) agrees with the geometry.
        self.assertLess(world_x(self.ct, self.reference == lung_labels.RIGHT),
                        world_x(self.ct, self.reference == lung_labels.LEFT))

    def test_no_stomach_or_bowel_gas(self):
        gas_organs = np.isin(self.lobes, TOTALSEG_GAS)
        self.assertTrue((gas_organs & (self.ct.data < -400)).any(), "example has no gas")
        self.assertEqual(int((gas_organs & (self.labels > 0)).sum()), 0)


class SlicePreprocessTest(unittest.TestCase):
    """The packer's resize (tools/train/slice_preprocess.py) against torch interpolate, on
    synthetic random images (labelled synthetic: only the arithmetic is under test)."""

    def test_synthetic_resize_matches_torch_interpolate(self):
        try:
            import torch
            import torch.nn.functional as F
        except ImportError:
            if os.environ.get("CI") == "true":
                raise
            raise unittest.SkipTest("torch not importable")
        import slice_preprocess
        rng = np.random.default_rng(0)
        for shape in ((101, 122), (512, 512), (200, 300)):
            image = rng.random(shape, dtype=np.float32)
            labels = rng.integers(0, 3, shape).astype(np.uint8)
            ref = F.interpolate(torch.from_numpy(image)[None, None], size=(256, 256),
                                mode="bilinear", align_corners=False)[0, 0].numpy()
            ref_lab = F.interpolate(torch.from_numpy(labels.astype(np.float32))[None, None],
                                    size=(256, 256), mode="nearest")[0, 0].numpy()
            got = slice_preprocess.resize_bilinear(image, (256, 256))
            self.assertLess(float(np.abs(got - ref).max()), 1e-5, shape)
            self.assertTrue(np.array_equal(slice_preprocess.resize_nearest(labels, (256, 256)),
                                           ref_lab.astype(np.uint8)), shape)


if __name__ == "__main__":
    unittest.main()
