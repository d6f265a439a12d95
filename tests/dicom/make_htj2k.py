"""Writes HTJ2K re-encodings of a real CT slice for the decoder tests.

The pixels are the real slice's; only the encoding is ours (imagecodecs' OpenJPH encoder,
reversible), so the decode must give back the original values exactly.
Usage: make_htj2k.py SOURCE.dcm OUTDIR
Writes OUTDIR/htj2k_lossless.dcm (one frame, one fragment), OUTDIR/htj2k_multiframe.dcm
(3 frames, each split into 2 fragments, no basic offset table) and OUTDIR/expected.npy.
"""
import sys
from pathlib import Path

import imagecodecs
import numpy as np
import pydicom
from pydicom.encaps import encapsulate
from pydicom.uid import UID

HTJ2K_LOSSLESS = UID("1.2.840.10008.1.2.4.201")


def main() -> None:
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    ds = pydicom.dcmread(src)
    pixels = ds.pixel_array
    frames = [pixels, np.flipud(pixels).copy(), np.fliplr(pixels).copy()]
    streams = [imagecodecs.htj2k_encode(f, level=0, reversible=True) for f in frames]
    for s, f in zip(streams, frames):
        assert np.array_equal(imagecodecs.htj2k_decode(s), f), "encoder not lossless"

    def write(name, frag_frames, n_frames, fragments_per_frame):
        d = pydicom.dcmread(src)
        d.file_meta.TransferSyntaxUID = HTJ2K_LOSSLESS
        d.PixelData = encapsulate(frag_frames, fragments_per_frame=fragments_per_frame,
                                  has_bot=False)
        d["PixelData"].VR = "OB"
        d["PixelData"].is_undefined_length = True
        if n_frames > 1:
            d.NumberOfFrames = n_frames
        d.save_as(out / name, enforce_file_format=True)

    write("htj2k_lossless.dcm", streams[:1], 1, 1)
    write("htj2k_multiframe.dcm", streams, 3, 2)
    np.save(out / "expected.npy", np.stack(frames))


if __name__ == "__main__":
    main()
