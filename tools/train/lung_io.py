"""CT volumes and label maps on the LPS voxel grid of the model package.

"LPS" is the orientation of the shared model contract (models/*/model.json): increasing
index along axes 0, 1, 2 points toward patient Left, Posterior, Superior. A standard axial
DICOM stack as medinfer loads it is already in this order (axis 0 = columns, axis 1 = rows,
axis 2 = slices sorted along row x column). Reorientation is a permutation plus flips only
(nibabel's orientation helpers), never an interpolation.

Every volume is a `Volume`: `data[x, y, z]` plus the 4x4 voxel-to-RAS affine that NIfTI
files carry (RAS = diag(-1, -1, 1) * LPS), so a label map written with `save_nifti` overlays
`medinfer convert` / dcm2niix output in any viewer.
"""

from __future__ import annotations

import dataclasses
import pathlib

import nibabel as nib
import numpy as np
import pydicom

LPS = ("L", "P", "S")
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class InputError(ValueError):
    """Bad input; the message names the file or folder and what is wrong."""


@dataclasses.dataclass
class Volume:
    data: np.ndarray  # [x, y, z]
    affine: np.ndarray  # 4x4 voxel index -> RAS mm

    @property
    def spacing(self) -> np.ndarray:
        return np.linalg.norm(self.affine[:3, :3], axis=0)

    @property
    def voxel_ml(self) -> float:
        return float(np.prod(self.spacing)) / 1000.0


def to_lps(volume: Volume) -> Volume:
    """Permutes and flips the axes so that they point to L, P, S (no interpolation)."""
    current = nib.orientations.io_orientation(volume.affine)
    transform = nib.orientations.ornt_transform(current, nib.orientations.axcodes2ornt(LPS))
    data = nib.orientations.apply_orientation(volume.data, transform)
    affine = volume.affine @ nib.orientations.inv_ornt_aff(transform, volume.data.shape)
    return Volume(np.ascontiguousarray(data), affine)


def _sorted_slices(folder: pathlib.Path) -> list[pydicom.Dataset]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if not files:
        raise InputError(f"{folder}: no files")
    slices = []
    for path in files:
        ds = pydicom.dcmread(path, force=True)
        if "PixelData" not in ds or "ImagePositionPatient" not in ds:
            continue  # not an image (e.g. a DICOMDIR or an RTSTRUCT in the same folder)
        ds.filename = str(path)
        slices.append(ds)
    if len(slices) < 2:
        raise InputError(f"{folder}: fewer than 2 image slices with ImagePositionPatient")
    series = {ds.SeriesInstanceUID for ds in slices}
    if len(series) != 1:
        raise InputError(f"{folder}: {len(series)} series found, expected one")
    iop = np.array(slices[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    slices.sort(key=lambda ds: float(np.dot(normal, np.array(ds.ImagePositionPatient, float))))
    return slices


def read_dicom_series(folder: str | pathlib.Path) -> Volume:
    """One CT series in HU (float32), [x = column, y = row, z = slice], reoriented to LPS."""
    folder = pathlib.Path(folder)
    slices = _sorted_slices(folder)
    first = slices[0]
    iop = np.array(first.ImageOrientationPatient, dtype=float)
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    positions = np.array([ds.ImagePositionPatient for ds in slices], dtype=float)
    steps = np.diff(positions @ normal)
    if np.any(steps <= 0) or np.ptp(steps) > 0.01 * np.mean(steps) + 1e-3:
        raise InputError(f"{folder}: slice positions not evenly spaced along the normal "
                         f"(steps {steps.min():.3f}..{steps.max():.3f} mm)")
    dy, dx = (float(v) for v in first.PixelSpacing)  # PixelSpacing is (row, column) spacing
    shape = (int(first.Columns), int(first.Rows), len(slices))
    hu = np.empty(shape, dtype=np.float32)
    for k, ds in enumerate(slices):
        if (int(ds.Rows), int(ds.Columns)) != (shape[1], shape[0]):
            raise InputError(f"{ds.filename}: Rows/Columns differ from the series' first slice")
        pixels = ds.pixel_array.astype(np.float32)  # [row, column]
        slope = float(ds.get("RescaleSlope", 1.0))
        intercept = float(ds.get("RescaleIntercept", 0.0))
        hu[:, :, k] = (pixels * slope + intercept).T
    lps_affine = np.eye(4)
    lps_affine[:3, 0] = row_dir * dx  # moving along a row = next column
    lps_affine[:3, 1] = col_dir * dy
    lps_affine[:3, 2] = normal * float(np.mean(steps))
    lps_affine[:3, 3] = positions[0]
    return to_lps(Volume(hu, LPS_TO_RAS @ lps_affine))


def read_nifti(path: str | pathlib.Path, dtype=np.float32) -> Volume:
    """A NIfTI image (scaled values), reoriented to LPS."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    image = nib.load(str(path))
    if len(image.shape) != 3:
        raise InputError(f"{path}: expected a 3-D image, got shape {image.shape}")
    return to_lps(Volume(np.asarray(image.get_fdata(dtype=np.float32)).astype(dtype),
                         image.affine.copy()))


def save_nifti(volume: Volume, path: str | pathlib.Path) -> None:
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(volume.data, volume.affine)
    image.set_qform(volume.affine, code=1)
    image.set_sform(volume.affine, code=1)
    nib.save(image, str(path))
