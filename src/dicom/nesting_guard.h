// The nesting guard: a bound on sequence nesting, checked before DCMTK parses a file.
//
// DCMTK 3.6.7 parses a sequence by recursion (item -> element -> sequence -> item ...), a
// chain of C++ frames per level, so a file nested a few thousand levels deep overflows the
// stack (dcmdump crashes on 8000 levels of undefined-length (0008,1115); a real regression
// file of a DICOM server nests thousands). check_nesting walks the element structure
// iteratively, reads element headers only (values, pixel data included, are skipped by
// their lengths) and rejects the file before any recursive parser sees it.
//
// Contract: a file in which a sequence opens inside more than kMaxSequenceDepth enclosing
// sequences (encapsulated pixel data counts as one) is rejected with kCorrupt, naming the
// file, the depth, and the offset and tag where the limit was passed. Real objects nest
// fewer than 10 levels (enhanced multi-frame, RT structure sets, SR: 6-8 at most).
//
// The walk follows DCMTK's reading rules (transfer syntax from the meta group; explicit VR:
// SQ, and UN or unknown VRs of undefined length read as implicit VR LE items (CP-246);
// implicit VR: undefined length, or any value that starts with an item, which covers the
// dictionary's SQ and private sequences alike). Where the structure is broken
// it goes on after the innermost enclosing value of defined length, and stops only when
// there is none: it never stops earlier than DCMTK does, and anything it cannot read DCMTK
// rejects. Internal to src/dicom.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "medinfer/status.h"

namespace medinfer::dicom {

inline constexpr int kMaxSequenceDepth = 64;

// Checks the file `path` of `size` bytes. `head`/`head_size`: its first bytes, already read
// by the caller (any length, may be 0); more is read with pread only where the walk goes
// beyond them. Thread-safe.
[[nodiscard]] Status check_nesting(const std::string& path, uint64_t size, const char* head,
                                   size_t head_size);

// The same for a file image in memory (a deflated file's inflated bytes: offsets in errors
// are then offsets into these bytes, which `what` names, e.g. "of the inflated file").
[[nodiscard]] Status check_nesting_in_memory(const std::string& path, const char* bytes,
                                             size_t size, const std::string& what);

}  // namespace medinfer::dicom
