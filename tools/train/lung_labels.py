"""Left/right lung labels from CT by a classical method on Hounsfield units.

Labels are made by this algorithm (no human drew them): 0 background, 1 right lung, 2 left
lung, on the LPS grid (axis 0 toward patient Left, so the right lung has the smaller x).

1. Body: HU > -500, a 2-D opening per slice (cuts the thin table and blanket links), the
   largest 3-D component, holes filled per slice.
2. Air inside the body: HU < -400 within the filled body, without components that touch
   the in-plane image border.
3. Airways: the trachea is seeded in the topmost slice that holds a small (30-700 mm^2),
   round air component near the body's left-right centre. It is tracked slice by slice
   downward on the lumen (air below -900 HU after 1 mm in-plane smoothing, which the airway wall separates from the lung
   better than -400 does): a component of the next slice joins the airway when it overlaps
   the (3 mm dilated) airway of the previous slice, is at most 1.5x its area (+40 mm^2), and
   the slice's airway stays below 3x the track's median area (+40 mm^2) (a jump in area means the
   component is a lung, reached through a bronchus). This removes the trachea and the main bronchi down to
   where they enter the lungs; per slice the whole air component around the tracked lumen
   (its partial-volume rim) joins it unless lung-sized. A track shorter than 30 mm is no trachea (e.g. a crop of
   the lung bases) and is dropped. The airway, dilated by two voxels in-plane, is removed.
4. Lungs: 3-D components of the remaining air; the largest is a lung, the second largest is
   the other lung when it lies on the other side of the body centre and holds at least 5%
   of the largest. Otherwise, when the largest spans both sides (lungs touching at the
   anterior/posterior junction), it is eroded in-plane until it falls into two large
   parts, and each voxel goes to the nearer part (Euclidean distance in mm). Components that are mostly pure air (more
   than half of the voxels below -950 HU: stomach and bowel gas; lung parenchyma is
   -700..-900 with few such voxels, even in emphysema rarely over 40%) are no lung. A component is a lung only when it holds >= 20 mL (>= 2 mL for short crops).
5. Sides by patient x: the smaller mean x is the right lung (label 1).
6. Per lung: a 3x3 in-plane opening (pixels < 1.5 mm only), then the 3-D parts holding >= 5% of it (drops specks
   of oesophageal air), a 3-D closing (radius 1 voxel), holes (vessels, nodules) filled per
   slice.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage as ndi

BODY_HU = -500.0
AIR_HU = -400.0
PURE_AIR_HU = -950.0
PURE_AIR_FRACTION = 0.5
MIN_AIRWAY_MM = 30.0
RIGHT, LEFT = 1, 2


@dataclasses.dataclass
class LungResult:
    labels: np.ndarray  # uint8 [x, y, z]
    body: np.ndarray  # bool
    airway: np.ndarray  # bool
    notes: list[str]


def _inplane(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    disk = (r[:, None] ** 2 + r[None, :] ** 2) <= radius * radius
    return disk[:, :, None]


def _largest_component(mask: np.ndarray) -> np.ndarray:
    lab, n = ndi.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return lab == int(np.argmax(sizes))


def _major_parts(mask: np.ndarray, fraction: float) -> np.ndarray:
    """The 3-D components holding at least `fraction` of the mask's voxels."""
    lab, n = ndi.label(mask)
    if n <= 1:
        return mask
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return np.isin(lab, np.nonzero(sizes >= fraction * sizes.sum())[0])


def _fill_per_slice(mask: np.ndarray) -> np.ndarray:
    out = np.empty_like(mask)
    for z in range(mask.shape[2]):
        out[:, :, z] = ndi.binary_fill_holes(mask[:, :, z])
    return out


def body_mask(hu: np.ndarray, spacing) -> np.ndarray:
    steps = max(1, int(round(3.0 / spacing[0])))  # ~3 mm, as repeated 3x3 in-plane steps
    body = ndi.binary_opening(hu > BODY_HU, structure=_inplane(1), iterations=steps)
    return _fill_per_slice(_largest_component(body))


def _touches_border(lab2d: np.ndarray) -> set[int]:
    edges = np.concatenate([lab2d[0, :], lab2d[-1, :], lab2d[:, 0], lab2d[:, -1]])
    return set(np.unique(edges[edges > 0]).tolist())


def inner_air(hu: np.ndarray, body: np.ndarray) -> np.ndarray:
    air = (hu < AIR_HU) & body
    for z in range(air.shape[2]):
        lab, n = ndi.label(air[:, :, z])
        for k in _touches_border(lab):
            air[:, :, z][lab == k] = False
    return air


def airway_mask(hu: np.ndarray, air: np.ndarray, body: np.ndarray, spacing, notes: list[str]) -> np.ndarray:
    pixel_mm2 = float(spacing[0] * spacing[1])
    # The lumen is pure air; airway walls are not. In-plane smoothing (sigma 1 mm) keeps the
    # noise of sharp kernels from making lung parenchyma look like lumen.
    smooth = ndi.gaussian_filter(hu, sigma=(1.0 / spacing[0], 1.0 / spacing[1], 0.0))
    lumen = air & (smooth < PURE_AIR_HU + 50.0)
    airway = np.zeros_like(air)
    seed_z, seed = None, None
    for z in range(air.shape[2] - 1, -1, -1):  # from the top (superior) down
        xs = np.nonzero(body[:, :, z].any(axis=1))[0]
        if xs.size == 0:
            continue
        center_x = 0.5 * (xs[0] + xs[-1])
        half_width = 0.5 * (xs[-1] - xs[0])
        lab, n = ndi.label(air[:, :, z])
        best = None
        for k, sl in enumerate(ndi.find_objects(lab), start=1):
            comp = lab[sl] == k
            area = comp.sum() * pixel_mm2
            if not 30.0 <= area <= 700.0:
                continue
            extent = comp.sum() / comp.size  # a round lumen fills ~0.785 of its box
            cx = sl[0].start + np.nonzero(comp)[0].mean()
            off = abs(cx - center_x)
            if extent > 0.5 and off < 0.25 * half_width and (best is None or off < best[0]):
                best = (off, lab == k)
        if best is not None:
            seed_z, seed = z, best[1]
            break
        if air[:, :, z].sum() * pixel_mm2 > 2000.0:
            break  # the lungs start before any trachea-like component: leave airway empty
    if seed is None:
        notes.append("no trachea seed found in the top slices; airway removal skipped")
        return airway
    notes.append(f"trachea seed at slice {seed_z}")
    airway[:, :, seed_z] = seed
    grow = _inplane(max(1, int(round(3.0 / spacing[0]))))[:, :, 0]
    previous = seed
    areas = [seed.sum()]
    for z in range(seed_z - 1, -1, -1):
        lab, n = ndi.label(lumen[:, :, z])
        near = ndi.binary_dilation(previous, structure=grow)
        # The trachea's own area (median of the track so far) bounds the slice's airway: two
        # main bronchi together stay below 3x it; a lung part reached through a bronchus is
        # far larger and ends that branch.
        slack = 40.0 / pixel_mm2
        cap = 3.0 * float(np.median(areas)) + slack
        keep = np.zeros_like(previous)
        for k in np.unique(lab[near & (lab > 0)]):
            comp = lab == k
            if comp.sum() * pixel_mm2 < 3.0:
                continue  # specks, not a bronchus
            if keep.sum() + comp.sum() <= cap and comp.sum() <= 1.5 * previous.sum() + slack:
                keep |= comp
        if not keep.any():
            break
        airway[:, :, z] = keep
        previous = keep
        areas.append(keep.sum())
    # The lumen's partial-volume rim (-900..-400 HU) belongs to the airway too: take the
    # whole slice component of air around the lumen while it is no lung-sized region.
    for z in np.nonzero(airway.any(axis=(0, 1)))[0]:
        lab, n = ndi.label(air[:, :, z])
        for k in np.unique(lab[airway[:, :, z] & (lab > 0)]):
            comp = lab == k
            if comp.sum() <= 3.0 * airway[:, :, z].sum() + 40.0 / pixel_mm2:
                airway[:, :, z] |= comp
    length_mm = (seed_z - np.nonzero(airway.any(axis=(0, 1)))[0].min() + 1) * spacing[2]
    if length_mm < MIN_AIRWAY_MM:
        notes.append(f"trachea candidate at slice {seed_z} spans {length_mm:.0f} mm only: "
                     "not an airway, none removed")
        return np.zeros_like(air)
    return airway


def _split_merged(component: np.ndarray, spacing) -> tuple[np.ndarray, np.ndarray] | None:
    """Separates two touching lungs: in-plane erosion until the component falls into two
    large parts, then every voxel goes to the nearer part. None when it never splits."""
    box = ndi.find_objects(component.astype(np.uint8))[0]
    sub = component[box]
    total = sub.sum()
    seeds = None
    eroded = sub
    for _ in range(int(round(15.0 / spacing[0]))):  # junction lines are a few mm thick
        eroded = ndi.binary_erosion(eroded, structure=_inplane(1))
        lab, n = ndi.label(eroded)
        if n < 2:
            continue
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        two = np.argsort(sizes)[::-1][:2]
        if sizes[two[1]] >= 0.1 * sizes[two[0]] and sizes[two[1]] > 0.02 * total:
            seeds = np.zeros(sub.shape, np.uint8)
            seeds[lab == two[0]] = 1
            seeds[lab == two[1]] = 2
            break
    if seeds is None:
        return None
    _, index = ndi.distance_transform_edt(seeds == 0, sampling=spacing, return_indices=True)
    nearest = seeds[tuple(index)]
    parts = []
    for value in (1, 2):
        part = np.zeros_like(component)
        part[box] = sub & (nearest == value)
        parts.append(part)
    return parts[0], parts[1]


def _is_gas(hu: np.ndarray, mask: np.ndarray) -> bool:
    """Bowel/stomach gas and airway lumen are nearly pure air; lung parenchyma is not."""
    return float((hu[mask] < PURE_AIR_HU).mean()) > PURE_AIR_FRACTION


def lung_labels(hu: np.ndarray, spacing) -> LungResult:
    """Labels right (1) and left (2) lung of an LPS HU volume [x, y, z]."""
    notes: list[str] = []
    spacing = np.asarray(spacing, dtype=float)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    body = body_mask(hu, spacing)
    air = inner_air(hu, body)
    airway = airway_mask(hu, air, body, spacing, notes)
    cut = ndi.binary_dilation(airway, structure=_inplane(1), iterations=2)
    lab, n = ndi.label(air & ~cut)
    labels = np.zeros(hu.shape, dtype=np.uint8)
    if n == 0:
        notes.append("no air inside the body")
        return LungResult(labels, body, airway, notes)
    sizes = np.bincount(lab.ravel()).astype(float) * voxel_ml
    sizes[0] = 0
    order = [k for k in np.argsort(sizes)[::-1] if sizes[k] > 0]
    gas = [k for k in order[:6] if _is_gas(hu, lab == k)]
    if gas:
        notes.append(f"{len(gas)} large gas component(s) dropped "
                     f"({', '.join(f'{sizes[k]:.1f}' for k in gas)} mL)")
    order = [k for k in order if k not in gas]
    if not order:
        notes.append("no lung-like air inside the body")
        return LungResult(labels, body, airway, notes)
    min_ml = 20.0 if hu.shape[2] * spacing[2] > 150.0 else 2.0
    body_x = np.nonzero(body)[0]
    center_x = 0.5 * (body_x.min() + body_x.max())
    first = lab == order[0]
    if sizes[order[0]] < min_ml:
        notes.append(f"largest air component {sizes[order[0]]:.1f} mL < {min_ml} mL: no lung")
        return LungResult(labels, body, airway, notes)
    first_x = np.nonzero(first)[0].mean()
    lungs = [first]
    if len(order) > 1 and sizes[order[1]] >= max(min_ml, 0.05 * sizes[order[0]]):
        second = lab == order[1]
        if (np.nonzero(second)[0].mean() - center_x) * (first_x - center_x) < 0:
            lungs.append(second)
    if len(lungs) == 1:
        xs = np.nonzero(first)[0]
        if xs.min() < center_x < xs.max() and min(center_x - xs.min(), xs.max() - center_x) > \
                0.2 * (xs.max() - xs.min()):
            parts = _split_merged(first, spacing)
            if parts is None:
                notes.append("lungs touch and could not be separated: labelled as one lung")
            else:
                notes.append("lungs touch: separated by erosion, voxels to the nearer lung")
                lungs = list(parts)
        else:
            notes.append("one lung found")
    lungs.sort(key=lambda m: np.nonzero(m)[0].mean())  # smaller x = patient right
    values = [RIGHT, LEFT] if len(lungs) == 2 else \
        [RIGHT if np.nonzero(lungs[0])[0].mean() < center_x else LEFT]
    ball = ndi.generate_binary_structure(3, 1)
    for mask, value in zip(lungs, values):
        # An in-plane opening cuts thin links (to oesophageal air, airway rims), then only
        # the largest 3-D part stays.
        if spacing[0] < 1.5:  # on coarse grids (3 mm) the opening would erase lung bases
            mask = ndi.binary_opening(mask, structure=_inplane(1))
        mask = _major_parts(mask, 0.05)
        mask = ndi.binary_closing(mask, structure=ball, border_value=0) | mask
        mask = _fill_per_slice(mask) & body
        labels[mask & (labels == 0)] = value
    return LungResult(labels, body, airway, notes)


def side_volumes_ml(labels: np.ndarray, spacing) -> dict[str, float]:
    voxel_ml = float(np.prod(spacing)) / 1000.0
    return {"right": float((labels == RIGHT).sum() * voxel_ml),
            "left": float((labels == LEFT).sum() * voxel_ml)}
