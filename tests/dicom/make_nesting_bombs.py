#!/usr/bin/env python3
"""Writes hostile DICOM files for the nesting guard (src/dicom/nesting_guard.h).

Standard library only. Every file is a tiny 2x2 CT slice (valid meta header, identity,
geometry, pixels) with one hostile structure added, so that a reader that survives the
structure would load the slice:

  deep_explicit_le.dcm      sequences nested DEPTH levels, undefined lengths
  deep_explicit_le_defined.dcm   the same with defined sequence and item lengths
  deep_implicit_le.dcm      implicit VR, undefined lengths
  deep_implicit_le_defined.dcm   implicit VR, defined lengths (SQ known from the dictionary)
  deep_explicit_be.dcm      explicit VR big endian, undefined lengths
  deep_deflated.dcm         deflated explicit VR LE (the inflated bytes hold the nesting)
  deep_un_cp246.dcm         explicit VR LE, nesting inside a UN element of undefined length
  at_limit.dcm              nested exactly LIMIT levels: must still open
  over_limit.dcm            nested LIMIT + 1 levels: must be rejected
  unterminated_sequence.dcm sequences of undefined length still open when the file ends
  huge_item_length.dcm      a sequence item declaring 0xFFFFFFF0 bytes
  huge_element_in_item.dcm  an element inside an item declaring 0xFFFFFFF0 bytes
  huge_fragment_length.dcm  an encapsulated pixel data fragment declaring 0xFFFFFFF0 bytes
  undefined_fragment.dcm    a pixel data fragment of undefined length
  sequence_in_pixel_data.dcm  a sequence element among the pixel data fragments
  nested_pixel_items.dcm    items of undefined length nested DEPTH deep in pixel data

Usage: make_nesting_bombs.py OUTDIR [--depth N] [--limit N] [--only NAME...]
The tests (tests/dicom/nesting_guard_test.cc) run it into a temporary folder;
tests/fuzz/make_seeds.sh runs it with --only for the committed fuzz seed.
"""
import argparse
import os
import struct
import zlib

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
RLE = "1.2.840.10008.1.2.5"
UNDEFINED = 0xFFFFFFFF
LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
NESTED_TAG = (0x0008, 0x1115)  # ReferencedSeriesSequence: SQ in the data dictionary


class Syntax:
    def __init__(self, explicit, big):
        self.explicit, self.big = explicit, big

    def u16(self, v):
        return struct.pack(">H" if self.big else "<H", v)

    def u32(self, v):
        return struct.pack(">I" if self.big else "<I", v)

    def tag(self, t):
        return self.u16(t[0]) + self.u16(t[1])

    def header(self, t, vr, length):
        if not self.explicit or t[0] == 0xFFFE:
            return self.tag(t) + self.u32(length)
        if vr in LONG_VRS:
            return self.tag(t) + vr.encode() + b"\0\0" + self.u32(length)
        return self.tag(t) + vr.encode() + self.u16(length)

    def element(self, t, vr, value):
        if vr in ("UI", "CS", "DS", "IS", "LO", "SH") and isinstance(value, str):
            value = value.encode()
            if len(value) % 2:
                value += b"\0" if vr == "UI" else b" "
        elif vr == "US":
            value = b"".join(self.u16(v) for v in value)
        return self.header(t, vr, len(value)) + value

    def item(self, body, defined):
        n = len(body) if defined else UNDEFINED
        end = b"" if defined else self.tag((0xFFFE, 0xE00D)) + self.u32(0)
        return self.tag((0xFFFE, 0xE000)) + self.u32(n) + body + end

    def sequence(self, t, items, defined, vr="SQ"):
        body = b"".join(items)
        n = len(body) if defined else UNDEFINED
        end = b"" if defined else self.tag((0xFFFE, 0xE0DD)) + self.u32(0)
        return self.header(t, vr, n) + body + end

    def nested(self, depth, defined, vr="SQ"):
        """DEPTH sequences, each holding one item that holds the next; built inside out."""
        inner = self.element((0x0008, 0x0100), "SH", "LEAF")
        if not defined:  # prefix + suffix, no copying: DEPTH may be large
            open_ = self.header(NESTED_TAG, vr, UNDEFINED) + self.tag((0xFFFE, 0xE000)) + self.u32(
                UNDEFINED
            )
            close = self.tag((0xFFFE, 0xE00D)) + self.u32(0) + self.tag((0xFFFE, 0xE0DD)) + self.u32(0)
            return open_ * depth + inner + close * depth
        for _ in range(depth):
            inner = self.sequence(NESTED_TAG, [self.item(inner, True)], True, vr)
        return inner


LE_EXPLICIT = Syntax(True, False)


def meta(ts):
    m = LE_EXPLICIT
    body = (
        m.element((0x0002, 0x0001), "OB", b"\0\1")
        + m.element((0x0002, 0x0002), "UI", "1.2.840.10008.5.1.4.1.1.2")
        + m.element((0x0002, 0x0003), "UI", "1.2.826.0.1.3680043.10.1341.9.1")
        + m.element((0x0002, 0x0010), "UI", ts)
        + m.element((0x0002, 0x0012), "UI", "1.2.826.0.1.3680043.10.1341.9")
    )
    return b"\0" * 128 + b"DICM" + m.element((0x0002, 0x0000), "UL", struct.pack("<I", len(body))) + body


def dataset(s, nested=b"", pixels=None, instance=1):
    """A 2x2 CT slice; `nested` goes at (0008,1115), between the identity and the study."""
    e = s.element
    z = 10.0 * instance
    head = (
        e((0x0008, 0x0016), "UI", "1.2.840.10008.5.1.4.1.1.2")
        + e((0x0008, 0x0018), "UI", "1.2.826.0.1.3680043.10.1341.9.1.%d" % instance)
        + e((0x0008, 0x0060), "CS", "CT")
    )
    tail = (
        e((0x0020, 0x000D), "UI", "1.2.826.0.1.3680043.10.1341.9.2")
        + e((0x0020, 0x000E), "UI", "1.2.826.0.1.3680043.10.1341.9.3")
        + e((0x0020, 0x0013), "IS", str(instance))
        + e((0x0020, 0x0032), "DS", "0\\0\\%g" % z)
        + e((0x0020, 0x0037), "DS", "1\\0\\0\\0\\1\\0")
        + e((0x0028, 0x0002), "US", [1])
        + e((0x0028, 0x0004), "CS", "MONOCHROME2")
        + e((0x0028, 0x0010), "US", [2])
        + e((0x0028, 0x0011), "US", [2])
        + e((0x0028, 0x0030), "DS", "1\\1")
        + e((0x0028, 0x0100), "US", [16])
        + e((0x0028, 0x0101), "US", [16])
        + e((0x0028, 0x0102), "US", [15])
        + e((0x0028, 0x0103), "US", [1])
    )
    if pixels is None:
        pixels = s.element((0x7FE0, 0x0010), "OW", b"".join(s.u16(v) for v in (1, 2, 3, 4)))
    return head + nested + tail + pixels


def syntax_of(ts):
    return {
        EXPLICIT_LE: LE_EXPLICIT,
        IMPLICIT_LE: Syntax(False, False),
        EXPLICIT_BE: Syntax(True, True),
        RLE: LE_EXPLICIT,
    }[ts]


def rle_pixels(fragments):
    """Encapsulated (7FE0,0010): empty offset table, then `fragments` (raw item bytes)."""
    s = LE_EXPLICIT
    return (
        s.header((0x7FE0, 0x0010), "OB", UNDEFINED)
        + s.item(b"", True)
        + fragments
        + s.tag((0xFFFE, 0xE0DD))
        + s.u32(0)
    )


def rle_fragment():
    # RLE header and one segment; these files are about structure, not decoding.
    header = struct.pack("<16I", 1, 64, *([0] * 14))
    return LE_EXPLICIT.item(header + bytes([7]) + bytes(8), True)


def files(depth, limit):
    le = LE_EXPLICIT
    out = {}
    for name, ts, defined in (
        ("deep_explicit_le", EXPLICIT_LE, False),
        ("deep_explicit_le_defined", EXPLICIT_LE, True),
        ("deep_implicit_le", IMPLICIT_LE, False),
        ("deep_implicit_le_defined", IMPLICIT_LE, True),
        ("deep_explicit_be", EXPLICIT_BE, False),
    ):
        s = syntax_of(ts)
        out[name] = meta(ts) + dataset(s, s.nested(depth, defined))
    data = dataset(le, le.nested(depth, False))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out["deep_deflated"] = meta(DEFLATED) + c.compress(data) + c.flush()
    # CP-246: a UN element of undefined length holds implicit VR LE items.
    imp = Syntax(False, False)
    un = le.header((0x0008, 0x1115), "UN", UNDEFINED) + imp.tag((0xFFFE, 0xE000)) + imp.u32(UNDEFINED)
    un += imp.nested(depth, False)
    un += imp.tag((0xFFFE, 0xE00D)) + imp.u32(0) + imp.tag((0xFFFE, 0xE0DD)) + imp.u32(0)
    out["deep_un_cp246"] = meta(EXPLICIT_LE) + dataset(le, un)
    out["at_limit"] = meta(EXPLICIT_LE) + dataset(le, le.nested(limit, False), instance=2)
    out["over_limit"] = meta(EXPLICIT_LE) + dataset(le, le.nested(limit + 1, False), instance=3)

    # The file ends inside three open sequences of undefined length (no delimiters).
    out["unterminated_sequence"] = meta(EXPLICIT_LE) + _cut_inside(le, le.nested(3, False))

    item_huge = le.tag((0xFFFE, 0xE000)) + le.u32(0xFFFFFFF0) + le.element((0x0008, 0x0100), "SH", "X")
    out["huge_item_length"] = meta(EXPLICIT_LE) + dataset(
        le, le.header(NESTED_TAG, "SQ", UNDEFINED) + item_huge
    )
    elem_huge = le.header((0x0008, 0x0100), "UT", 0xFFFFFFF0) + b"X" * 16
    out["huge_element_in_item"] = meta(EXPLICIT_LE) + dataset(
        le, le.header(NESTED_TAG, "SQ", UNDEFINED) + le.tag((0xFFFE, 0xE000)) + le.u32(UNDEFINED) + elem_huge
    )
    frag_huge = le.tag((0xFFFE, 0xE000)) + le.u32(0xFFFFFFF0) + b"\0" * 64
    out["huge_fragment_length"] = meta(RLE) + dataset(le, pixels=rle_pixels(frag_huge)[:-8])
    frag_undef = le.tag((0xFFFE, 0xE000)) + le.u32(UNDEFINED) + b"\0" * 64
    out["undefined_fragment"] = meta(RLE) + dataset(le, pixels=rle_pixels(frag_undef))
    seq_in_px = rle_fragment() + le.nested(3, False) + rle_fragment()
    out["sequence_in_pixel_data"] = meta(RLE) + dataset(le, pixels=rle_pixels(seq_in_px))
    items = (le.tag((0xFFFE, 0xE000)) + le.u32(UNDEFINED)) * depth
    items += (le.tag((0xFFFE, 0xE00D)) + le.u32(0)) * depth
    out["nested_pixel_items"] = meta(RLE) + dataset(le, pixels=rle_pixels(rle_fragment() + items))
    return out


def _cut_inside(s, whole):
    """A dataset whose bytes end inside `whole` (after its open headers and leaf)."""
    full = dataset(s, whole)
    cut = full.index(whole) + len(whole) - 3 * 16  # drop the closing delimiters
    return full[:cut]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--depth", type=int, default=10000, help="levels of the deep files")
    ap.add_argument("--limit", type=int, default=64, help="kMaxSequenceDepth of the guard")
    ap.add_argument("--only", nargs="*", help="names (without .dcm) to write")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    for name, data in files(a.depth, a.limit).items():
        if a.only and name not in a.only:
            continue
        with open(os.path.join(a.outdir, name + ".dcm"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
