#!/usr/bin/env bash
# Regenerates the committed tiny seeds in tests/fuzz/seeds/ with DCMTK's command-line
# tools (dump2dcm, dcmconv, dcmcrle, dcmcjpeg, dcmcjpls; Debian package dcmtk). They cover
# what the shared conformance corpus lacks: two-slice series, enhanced multi-frame with
# functional groups, a GridFrameOffsetVector stack, 1-bit, MONOCHROME1, planar RGB; and
# sequence nesting bombs from tests/dicom/make_nesting_bombs.py (Python standard library).
# Usage: bash tests/fuzz/make_seeds.sh   (only needed when changing the seeds)
set -euo pipefail
cd "$(dirname "$0")"
out=seeds
sep=MEDINFER-FUZZ-NEXT-FILE  # kSeparator in scan_load_fuzzer.cc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 4x4 signed 16-bit CT slice at z=$1, instance $2.
ct_slice() {
  cat <<DUMP
(0002,0010) UI =LittleEndianExplicit
(0008,0016) UI =CTImageStorage
(0008,0018) UI [1.2.826.0.1.3680043.10.543.1.$2]
(0008,0060) CS [CT]
(0020,000d) UI [1.2.826.0.1.3680043.10.543.2]
(0020,000e) UI [1.2.826.0.1.3680043.10.543.3]
(0020,0011) IS [1]
(0020,0013) IS [$2]
(0020,0032) DS [-1.5\-1.5\\$1]
(0020,0037) DS [1\0\0\0\1\0]
(0020,0052) UI [1.2.826.0.1.3680043.10.543.4]
(0018,0050) DS [2.5]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 4
(0028,0011) US 4
(0028,0030) DS [0.5\0.5]
(0028,0100) US 16
(0028,0101) US 12
(0028,0102) US 11
(0028,0103) US 1
(0028,1052) DS [-1024]
(0028,1053) DS [1]
(7fe0,0010) OW 0000\0001\0002\0003\0400\0401\0402\0403\0800\07ff\0fff\0800\0010\0020\0030\0040
DUMP
}

ct_slice 0 1 > "$tmp/ct0.txt"
ct_slice 2.5 2 > "$tmp/ct1.txt"
dump2dcm -q "$tmp/ct0.txt" "$out/ct_4x4_explicit_le.dcm"
dump2dcm -q "$tmp/ct1.txt" "$tmp/ct1.dcm"
dcmconv -q +ti "$out/ct_4x4_explicit_le.dcm" "$out/ct_4x4_implicit_le.dcm"
dcmconv -q +tb "$out/ct_4x4_explicit_le.dcm" "$out/ct_4x4_explicit_be.dcm"
dcmconv -q +td "$out/ct_4x4_explicit_le.dcm" "$out/ct_4x4_deflated.dcm"
dcmcrle -q "$out/ct_4x4_explicit_le.dcm" "$out/ct_4x4_rle.dcm"
dcmcjpeg -q +e1 "$out/ct_4x4_explicit_le.dcm" "$out/ct_4x4_jpeg_sv1.dcm"
dcmcjpls -q "$out/ct_4x4_explicit_le.dcm" "$out/ct_4x4_jpegls.dcm"
{ cat "$out/ct_4x4_explicit_le.dcm"; printf '%s' "$sep"; cat "$tmp/ct1.dcm"; } \
  > "$out/series_two_slices_le.bin"
dcmcrle -q "$tmp/ct1.dcm" "$tmp/ct1_rle.dcm"
{ cat "$out/ct_4x4_rle.dcm"; printf '%s' "$sep"; cat "$tmp/ct1_rle.dcm"; } \
  > "$out/series_two_slices_rle.bin"

# Enhanced CT, 2 frames of 2x2: shared orientation/spacing, per-frame position and rescale.
cat > "$tmp/enh.txt" <<'DUMP'
(0002,0010) UI =LittleEndianExplicit
(0008,0016) UI =EnhancedCTImageStorage
(0008,0018) UI [1.2.826.0.1.3680043.10.543.11]
(0008,0060) CS [CT]
(0020,000d) UI [1.2.826.0.1.3680043.10.543.12]
(0020,000e) UI [1.2.826.0.1.3680043.10.543.13]
(0020,0013) IS [1]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0008) IS [2]
(0028,0010) US 2
(0028,0011) US 2
(0028,0100) US 16
(0028,0101) US 16
(0028,0102) US 15
(0028,0103) US 1
(5200,9229) SQ
(fffe,e000) na
(0020,9116) SQ
(fffe,e000) na
(0020,0037) DS [1\0\0\0\1\0]
(fffe,e00d) na
(fffe,e0dd) na
(0028,9110) SQ
(fffe,e000) na
(0018,0050) DS [3]
(0028,0030) DS [0.7\0.7]
(fffe,e00d) na
(fffe,e0dd) na
(fffe,e00d) na
(fffe,e0dd) na
(5200,9230) SQ
(fffe,e000) na
(0020,9113) SQ
(fffe,e000) na
(0020,0032) DS [0\0\0]
(fffe,e00d) na
(fffe,e0dd) na
(0028,9145) SQ
(fffe,e000) na
(0028,1052) DS [-1024]
(0028,1053) DS [1]
(fffe,e00d) na
(fffe,e0dd) na
(fffe,e00d) na
(fffe,e000) na
(0020,9113) SQ
(fffe,e000) na
(0020,0032) DS [0\0\3]
(fffe,e00d) na
(fffe,e0dd) na
(0028,9145) SQ
(fffe,e000) na
(0028,1052) DS [-1000]
(0028,1053) DS [2]
(fffe,e00d) na
(fffe,e0dd) na
(fffe,e00d) na
(fffe,e0dd) na
(7fe0,0010) OW 0001\fffe\0100\8000\0002\0003\7fff\0004
DUMP
dump2dcm -q "$tmp/enh.txt" "$out/enhanced_ct_2frames.dcm"
dcmcrle -q "$out/enhanced_ct_2frames.dcm" "$out/enhanced_ct_2frames_rle.dcm"

# Classic multi-frame placed by GridFrameOffsetVector (as RT dose and NM are), 32-bit.
cat > "$tmp/grid.txt" <<'DUMP'
(0002,0010) UI =LittleEndianExplicit
(0008,0016) UI =MultiframeGrayscaleWordSecondaryCaptureImageStorage
(0008,0018) UI [1.2.826.0.1.3680043.10.543.21]
(0008,0060) CS [OT]
(0020,000d) UI [1.2.826.0.1.3680043.10.543.22]
(0020,000e) UI [1.2.826.0.1.3680043.10.543.23]
(0020,0032) DS [10\20\30]
(0020,0037) DS [1\0\0\0\1\0]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0008) IS [3]
(0028,0009) AT (3004,000c)
(0028,0010) US 1
(0028,0011) US 2
(0028,0030) DS [2\2]
(0028,0100) US 32
(0028,0101) US 32
(0028,0102) US 31
(0028,0103) US 0
(3004,000c) DS [0\4\8]
(7fe0,0010) OW 0001\0000\0002\0000\ffff\7fff\0000\8000\0005\0000\0006\0000
DUMP
dump2dcm -q "$tmp/grid.txt" "$out/grid_offsets_3frames_u32.dcm"

# 1-bit, 8x8, 2 frames (bits packed, first pixel in the least significant bit).
cat > "$tmp/bit.txt" <<'DUMP'
(0002,0010) UI =LittleEndianExplicit
(0008,0016) UI =MultiframeSingleBitSecondaryCaptureImageStorage
(0008,0018) UI [1.2.826.0.1.3680043.10.543.31]
(0020,000d) UI [1.2.826.0.1.3680043.10.543.32]
(0020,000e) UI [1.2.826.0.1.3680043.10.543.33]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0008) IS [2]
(0028,0010) US 8
(0028,0011) US 8
(0028,0100) US 1
(0028,0101) US 1
(0028,0102) US 0
(0028,0103) US 0
(7fe0,0010) OB 01\02\04\08\10\20\40\80\ff\00\ff\00\aa\55\aa\55
DUMP
dump2dcm -q "$tmp/bit.txt" "$out/bits1_8x8_2frames.dcm"

# MONOCHROME1, unsigned 8-bit, 3x3.
cat > "$tmp/mono1.txt" <<'DUMP'
(0002,0010) UI =LittleEndianExplicit
(0008,0016) UI =ComputedRadiographyImageStorage
(0008,0018) UI [1.2.826.0.1.3680043.10.543.41]
(0008,0060) CS [CR]
(0020,000d) UI [1.2.826.0.1.3680043.10.543.42]
(0020,000e) UI [1.2.826.0.1.3680043.10.543.43]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME1]
(0028,0010) US 3
(0028,0011) US 3
(0028,0100) US 8
(0028,0101) US 8
(0028,0102) US 7
(0028,0103) US 0
(7fe0,0010) OB 00\10\20\30\40\50\60\70\ff\00
DUMP
dump2dcm -q "$tmp/mono1.txt" "$out/mono1_u8_3x3.dcm"

# RGB, planar configuration 1, 2x2.
cat > "$tmp/rgb.txt" <<'DUMP'
(0002,0010) UI =LittleEndianExplicit
(0008,0016) UI =SecondaryCaptureImageStorage
(0008,0018) UI [1.2.826.0.1.3680043.10.543.51]
(0020,000d) UI [1.2.826.0.1.3680043.10.543.52]
(0020,000e) UI [1.2.826.0.1.3680043.10.543.53]
(0028,0002) US 3
(0028,0004) CS [RGB]
(0028,0006) US 1
(0028,0010) US 2
(0028,0011) US 2
(0028,0100) US 8
(0028,0101) US 8
(0028,0102) US 7
(0028,0103) US 0
(7fe0,0010) OB ff\00\00\ff\00\ff\00\ff\00\00\ff\ff
DUMP
dump2dcm -q "$tmp/rgb.txt" "$out/rgb_planar_2x2.dcm"

# Sequences nested past the nesting guard's limit (src/dicom/nesting_guard.h): 80 levels in
# implicit VR (3 KB), and 10000 levels deflated (1.4 KB; the guard checks inflated bytes).
python3 ../dicom/make_nesting_bombs.py "$tmp/nest" --depth 80 --only deep_implicit_le
cp "$tmp/nest/deep_implicit_le.dcm" "$out/nesting_80_levels_implicit.dcm"
python3 ../dicom/make_nesting_bombs.py "$tmp/nest" --depth 10000 --only deep_deflated
cp "$tmp/nest/deep_deflated.dcm" "$out/nesting_10000_levels_deflated.dcm"

ls -l "$out"
du -cb "$out"/* | tail -1
