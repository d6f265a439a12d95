"""Independent reference for src/image/nrrd_reader.cc, from pynrrd.

  nrrd_reference.py describe FILE OUT.raw   read FILE with pynrrd; write its voxels to OUT.raw
                                            (x fastest, little endian) and print the geometry
  nrrd_reference.py write DIR               write synthetic NRRDs with pynrrd (several types,
                                            encodings, spaces, byte orders, detached headers);
                                            for each NAME: DIR/NAME.ref.raw and DIR/NAME.ref.json hold
                                            the array and geometry pynrrd was given

Geometry JSON: dtype (numpy name), sizes, spacing, direction (LPS, row-major 3x3, column c
= axis c) and origin (LPS), computed here from the NRRD fields: RAS negates x and y.
"""
import json
import os
import sys

import nrrd
import numpy as np

SIGN = {
    "left-posterior-superior": (1, 1, 1),
    "right-anterior-superior": (-1, -1, 1),
    "left-anterior-superior": (1, -1, 1),
}


def geometry(space, directions, origin, data):
    sign = np.array(SIGN[space], dtype=float)
    dirs = np.asarray(directions, dtype=float)  # row c: vector of axis c
    spacing = np.linalg.norm(dirs, axis=1)
    direction = ((dirs * sign[None, :]) / spacing[:, None]).T  # column c: axis c
    return {
        "dtype": str(data.dtype.newbyteorder("=").name),
        "sizes": list(data.shape),
        "spacing": spacing.tolist(),
        "direction": direction.reshape(-1).tolist(),
        "origin": (np.asarray(origin, dtype=float) * sign).tolist(),
    }


def write_raw(data, path):
    data.astype(data.dtype.newbyteorder("<")).ravel(order="F").tofile(path)


def describe(path, out_raw):
    data, header = nrrd.read(path, index_order="F")
    write_raw(data, out_raw)
    print(json.dumps(geometry(header["space"], header["space directions"], header["space origin"],
                              data)))


def write(folder):
    rng = np.random.default_rng(7)
    shape = (7, 5, 4)
    cases = [
        # name, dtype, encoding, space, detached
        ("u8_gzip_lps", "u1", "gzip", "left-posterior-superior", False),
        ("i16_raw_ras", "<i2", "raw", "right-anterior-superior", False),
        ("u16_gzip_big", ">u2", "gzip", "left-posterior-superior", False),
        ("i32_raw_detached", "<i4", "raw", "left-posterior-superior", True),
        ("u32_gzip_detached_las", "<u4", "gzip", "left-anterior-superior", True),
        ("f32_ascii_ras", "<f4", "ascii", "right-anterior-superior", False),
        ("f64_raw_big", ">f8", "raw", "left-posterior-superior", False),
        ("i8_raw", "i1", "raw", "left-posterior-superior", False),
    ]
    c, s = np.cos(0.4), np.sin(0.4)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    for i, (name, dtype, encoding, space, detached) in enumerate(cases):
        dt = np.dtype(dtype)
        if dt.kind == "f":
            data = rng.normal(0, 100, size=shape).astype(dt)
        else:
            info = np.iinfo(dt)
            data = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dt)
        spacing = np.array([0.7 + 0.1 * i, 0.9, 2.5])
        directions = (rot @ np.diag(spacing)).T * (1 if i % 2 == 0 else -1)  # row c: axis c
        origin = np.array([-120.5 + i, 33.25, -7.0 * i])
        header = {"space": space, "space directions": directions, "space origin": origin,
                  "encoding": encoding}
        ext = ".nhdr" if detached else ".nrrd"
        nrrd.write(os.path.join(folder, name + ext), data, header, detached_header=detached,
                   index_order="F")
        write_raw(data, os.path.join(folder, name + ".ref.raw"))
        with open(os.path.join(folder, name + ".ref.json"), "w") as f:
            json.dump(geometry(space, directions, origin, data) | {"file": name + ext}, f)
        print(name + ext)


if __name__ == "__main__":
    if sys.argv[1] == "describe":
        describe(sys.argv[2], sys.argv[3])
    else:
        write(sys.argv[2])
