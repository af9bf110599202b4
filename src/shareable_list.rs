//! `ShareableList`: a fixed-length list of scalars in a named segment,
//! readable and writable from every language.
//!
//! Each element is stored as its exact CBOR encoding (one of null, bool,
//! integer, float, text, bytes: what Python's ShareableList holds), in a
//! slot whose capacity is fixed at creation and sized as Python's stock
//! ShareableList sizes it, counted in the value's own bytes (UTF-8 for
//! text, raw for bytes; 8 for any other scalar), not in CBOR bytes: a slot
//! created with text or bytes of n bytes holds up to `8 * (n / 8 + 1)`
//! bytes, any other slot 8 (so any int64 or float fits any slot, and a
//! text of up to 8 bytes fits a slot created with a number). A later value
//! must fit its slot ([`ErrorKind::TooBig`] otherwise). Values come back
//! byte for byte as written: no trailing-NUL stripping, no UTF-8
//! truncation (Python's ShareableList has both bugs).
//!
//! Layout (version 2) after the state: a table of `count` entries
//! `{offset u64, capacity u32, len u32}`, then the slots' bytes; a slot is
//! `capacity + SLOT_HEAD` bytes long (room for the CBOR head in front of
//! the value). Version 1 stored the CBOR capacity in `capacity` (the
//! initial item's encoding rounded up to 8). Reads and writes take
//! the list's robust lock. A writer killed mid-write can leave a torn
//! slot; the next locker, told that the holder died, checks every slot and
//! replaces any that no longer decode with null (counted in
//! [`ShareableList::repairs`]).

use crate::error::{Error, ErrorKind, Result};
use crate::os::{LockState, RobustMutex, RobustMutexGuard};
use crate::segment::{self, NamedSegment, OpenMode, OpenOptions, SegmentKind};
use std::sync::atomic::{compiler_fence, AtomicU32, AtomicU64, Ordering};

/// Version 2: capacities count the value's own bytes (see the module doc).
const SL_LAYOUT: u32 = 2;

/// Bytes a slot has beyond its capacity, for the CBOR head: a text or
/// byte string up to 4 GiB has a head of at most 5 bytes, and an integer
/// or float (whose capacity is 8) is at most 9 bytes in all.
const SLOT_HEAD: usize = 8;

// The layout documented in docs/PROTOCOL.md §5.
const _: () = assert!(std::mem::size_of::<SlState>() == 64 && std::mem::size_of::<Entry>() == 16);

/// The most elements a list may have.
pub const SLIST_MAX_ITEMS: usize = 1 << 24;

#[repr(C)]
struct SlState {
    lock: RobustMutex,
    /// Torn slots replaced by null after a holder died.
    repairs: AtomicU64,
    /// Element count; written once before publication.
    count: u64,
    /// Bytes of slot data after the table; written once.
    data_len: u64,
}

#[repr(C)]
struct Entry {
    /// Offset of the slot in the data area; written once.
    offset: u64,
    /// Slot capacity in the value's own bytes (see the module doc); the
    /// slot is `capacity + SLOT_HEAD` bytes. Written once.
    capacity: u32,
    /// The stored item's length; changed under the lock.
    len: AtomicU32,
}

/// A named list of scalars. Thread-safe.
pub struct ShareableList {
    seg: NamedSegment<SlState>,
    count: usize,
    /// Each slot's (offset in the data area, capacity in value bytes; the
    /// slot is SLOT_HEAD bytes longer), validated at attach
    /// and kept here: the copies in shared memory are never trusted again,
    /// so a peer that rewrites the table cannot steer a read or write
    /// outside the data area.
    slots: Vec<(usize, usize)>,
}

/// A slot's length while a writer copies into it: larger than any slot's
/// capacity (capacities are multiples of 8, validated at attach, so never
/// u32::MAX), so a slot left with it reads as torn and is repaired.
const SLOT_BEING_WRITTEN: u32 = u32::MAX;

/// The encoded null, written into repaired slots.
const CBOR_NULL: u8 = 0xf6;

/// Checks that `b` is exactly one CBOR scalar of the kinds a ShareableList
/// holds: [`ErrorKind::Corrupt`] when `b` is not well-formed CBOR
/// (truncated, trailing bytes, a reserved head, text that is not UTF-8:
/// what every binding reports as a decode error), [`ErrorKind::Type`] for
/// well-formed CBOR a list cannot hold (arrays, maps, tags, indefinite
/// lengths, simple values other than false, true and null).
pub fn check_scalar(b: &[u8]) -> Result<()> {
    let Some(&first) = b.first() else { return Err(malformed("empty")) };
    let (major, info) = (first >> 5, first & 0x1f);
    let arg_len = match info {
        0..=23 => 0,
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        28..=30 => return Err(malformed("a reserved head")),
        _ => return Err(indefinite(major)),
    };
    if b.len() < 1 + arg_len {
        return Err(malformed("truncated"));
    }
    let arg = if arg_len == 0 { info as u64 } else { b[1..1 + arg_len].iter().fold(0u64, |a, &x| (a << 8) | x as u64) };
    let head = 1 + arg_len;
    match major {
        0 | 1 if b.len() == head => Ok(()),
        0 | 1 => Err(malformed("trailing bytes")),
        2 | 3 => {
            let have = (b.len() - head) as u64;
            if have != arg {
                return Err(malformed(if have < arg { "truncated" } else { "trailing bytes" }));
            }
            if major == 3 && std::str::from_utf8(&b[head..]).is_err() {
                return Err(malformed("text is not UTF-8"));
            }
            Ok(())
        }
        7 => match (info, b.len()) {
            (20..=22, 1) | (25, 3) | (26, 5) | (27, 9) => Ok(()),
            (20..=22 | 25..=27, _) => Err(malformed("trailing bytes")),
            _ => Err(not_an_item("only false, true, null and floats among simple values")),
        },
        4 | 5 => Err(not_an_item("arrays and maps cannot be stored (scalars only)")),
        _ => Err(not_an_item("tagged items cannot be stored (scalars only)")),
    }
}

/// Bytes that are not well-formed CBOR ([`ErrorKind::Corrupt`], the status
/// of a decode error in every binding).
fn malformed(why: &str) -> Error {
    Error::new(ErrorKind::Corrupt, format!("not well-formed CBOR: {why}"))
}

/// Well-formed CBOR that a ShareableList cannot hold ([`ErrorKind::Type`]).
fn not_an_item(why: &str) -> Error {
    Error::new(ErrorKind::Type, format!("not a ShareableList item (int, float, bool, str, bytes or null): {why}"))
}

/// The error for an item whose head has additional information 31: an
/// indefinite length (well-formed for strings, arrays and maps, which a
/// list does not store) or a misplaced "break" (malformed).
fn indefinite(major: u8) -> Error {
    match major {
        2..=5 => not_an_item("indefinite-length items cannot be stored"),
        _ => malformed("a break or indefinite length where none can be"),
    }
}

/// The size of the scalar `b` (checked with [`check_scalar`]) counted as
/// a slot's capacity counts it: a text's UTF-8 bytes, a byte string's
/// bytes, 8 for anything else (Python's struct formats `q`, `d`, `?`).
fn value_len(b: &[u8]) -> usize {
    match b[0] >> 5 {
        2 | 3 => head_arg(b).map_or(usize::MAX, |(n, _)| n as usize),
        _ => 8,
    }
}

/// The capacity, in value bytes, of a slot created with the scalar `b`:
/// Python's stock ShareableList's `8 * (n // 8 + 1)` for text and bytes
/// of n bytes, 8 for anything else.
fn initial_capacity(b: &[u8]) -> usize {
    match b[0] >> 5 {
        2 | 3 => (value_len(b) / 8 + 1) * 8,
        _ => 8,
    }
}

/// Splits a definite-length CBOR array of scalars into its items' bytes
/// (each checked with [`check_scalar`]): [`ErrorKind::Invalid`] for
/// well-formed CBOR that is not such an array (or has too many items),
/// [`ErrorKind::Corrupt`] for bytes that are not well-formed CBOR.
pub fn split_items(b: &[u8]) -> Result<Vec<&[u8]>> {
    let bad = |why: &str| Error::new(ErrorKind::Invalid, format!("items must be a CBOR array: {why}"));
    let (&first, _) = b.split_first().ok_or_else(|| malformed("empty"))?;
    if first >> 5 != 4 {
        return Err(bad("not an array"));
    }
    if first & 0x1f == 31 {
        return Err(bad("an indefinite-length array (give its length)"));
    }
    let (n, mut pos) = head_arg(b).ok_or_else(|| malformed("a truncated or reserved head"))?;
    if n > SLIST_MAX_ITEMS as u64 {
        return Err(bad("too many items"));
    }
    // Each item takes at least one byte: never reserve more than that.
    let mut items = Vec::with_capacity((n as usize).min(b.len()));
    for _ in 0..n {
        let rest = &b[pos..];
        if rest.is_empty() {
            return Err(malformed("truncated: fewer items than the array's length says"));
        }
        let len = scalar_len(rest)?;
        check_scalar(&rest[..len])?;
        items.push(&rest[..len]);
        pos += len;
    }
    if pos != b.len() {
        return Err(malformed("trailing bytes after the array"));
    }
    Ok(items)
}

/// The argument of a CBOR head and the head's length; None if truncated
/// or indefinite.
fn head_arg(b: &[u8]) -> Option<(u64, usize)> {
    let info = b.first()? & 0x1f;
    let n = match info {
        0..=23 => return Some((info as u64, 1)),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => return None,
    };
    let arg = b.get(1..1 + n)?.iter().fold(0u64, |a, &x| (a << 8) | x as u64);
    Some((arg, 1 + n))
}

/// The encoded length of the scalar at the start of `b` (not empty):
/// [`ErrorKind::Type`] for an item a list cannot hold,
/// [`ErrorKind::Corrupt`] for a truncated or malformed one.
fn scalar_len(b: &[u8]) -> Result<usize> {
    let (major, info) = (b[0] >> 5, b[0] & 0x1f);
    match info {
        28..=30 => return Err(malformed("a reserved head")),
        31 => return Err(indefinite(major)),
        _ => {}
    }
    let (arg, head) = head_arg(b).ok_or_else(|| malformed("truncated"))?;
    let len = match major {
        0 | 1 => head,
        // A length beyond the address space is a length beyond `b`.
        2 | 3 => usize::try_from(arg).ok().and_then(|a| a.checked_add(head)).unwrap_or(usize::MAX),
        7 => match info {
            20..=22 => 1,
            25..=27 => head,
            _ => return Err(not_an_item("only false, true, null and floats among simple values")),
        },
        4 | 5 => return Err(not_an_item("arrays and maps cannot be stored (scalars only)")),
        _ => return Err(not_an_item("tagged items cannot be stored (scalars only)")),
    };
    if len > b.len() {
        return Err(malformed("truncated"));
    }
    Ok(len)
}

impl ShareableList {
    /// Opens the list `name`. With `init` (CBOR-encoded scalars), creates
    /// it holding them, or attaches to an existing list, which must have
    /// as many elements ([`ErrorKind::Invalid`]). Without `init`, attaches
    /// only.
    pub fn open(name: &str, init: Option<&[&[u8]]>, opts: &OpenOptions) -> Result<ShareableList> {
        let mut opts = *opts;
        let Some(items) = init else {
            if opts.open_mode == OpenMode::CreateOnly {
                return Err(Error::new(ErrorKind::Invalid, "creating a ShareableList needs its initial items"));
            }
            opts.open_mode = OpenMode::AttachOnly;
            return ShareableList::attach(name, None, &opts);
        };
        if items.len() > SLIST_MAX_ITEMS {
            return Err(Error::new(ErrorKind::Invalid, format!("more than {SLIST_MAX_ITEMS} items")));
        }
        for it in items {
            check_scalar(it)?;
            // Slot capacities and lengths are u32 in the layout.
            if it.len() > (u32::MAX as usize) - 64 {
                return Err(Error::new(ErrorKind::TooBig, "a ShareableList item is limited to 4 GiB"));
            }
        }
        ShareableList::attach(name, Some(items), &opts)
    }

    fn attach(name: &str, items: Option<&[&[u8]]>, opts: &OpenOptions) -> Result<ShareableList> {
        let caps: Vec<usize> = items.unwrap_or(&[]).iter().map(|it| initial_capacity(it)).collect();
        let data_len: usize = caps.iter().map(|c| c + SLOT_HEAD).sum();
        let table = caps.len() * std::mem::size_of::<Entry>();
        let seg = NamedSegment::open(
            SegmentKind::ShareableList,
            name,
            SL_LAYOUT,
            table + data_len,
            opts,
            |st: *mut SlState, tail| {
                let items = items.expect("attach-only never creates");
                // SAFETY: the zeroed, unpublished state and tail, sized above.
                unsafe {
                    (*st).count = items.len() as u64;
                    (*st).data_len = data_len as u64;
                    let entries = tail.cast::<Entry>();
                    let data = tail.add(table);
                    let mut off = 0usize;
                    for (i, it) in items.iter().enumerate() {
                        entries.add(i).write(Entry {
                            offset: off as u64,
                            capacity: caps[i] as u32,
                            len: AtomicU32::new(it.len() as u32),
                        });
                        std::ptr::copy_nonoverlapping(it.as_ptr(), data.add(off), it.len());
                        off += caps[i] + SLOT_HEAD;
                    }
                    RobustMutex::init(std::ptr::addr_of_mut!((*st).lock))
                }
            },
        )?;
        let st = seg.state();
        let corrupt = || Error::new(ErrorKind::Corrupt, format!("{name:?}: ShareableList header does not fit"));
        if st.count > SLIST_MAX_ITEMS as u64 {
            return Err(corrupt());
        }
        let count = st.count as usize;
        let data_len = st.data_len;
        let fits = ((count * std::mem::size_of::<Entry>()) as u64)
            .checked_add(data_len)
            .is_some_and(|need| need <= seg.tail_len() as u64);
        if !fits {
            return Err(corrupt());
        }
        let mut list = ShareableList { seg, count, slots: Vec::new() };
        let mut slots = Vec::with_capacity(count);
        for i in 0..count {
            let e = list.entry(i);
            // Creators make capacities of at least 8, multiples of 8.
            let ok_cap = e.capacity >= 8 && e.capacity % 8 == 0;
            let slot_len = e.capacity as u64 + SLOT_HEAD as u64;
            if !ok_cap || e.offset.checked_add(slot_len).is_none_or(|end| end > data_len) {
                return Err(corrupt());
            }
            slots.push((e.offset as usize, e.capacity as usize));
        }
        list.slots = slots;
        if let Some(items) = items {
            if items.len() != count {
                return Err(Error::new(
                    ErrorKind::Invalid,
                    format!("{name:?} has {count} items, opened with {}", items.len()),
                ));
            }
        }
        Ok(list)
    }

    /// Removes the name.
    pub fn unlink(name: &str) -> Result<()> {
        segment::unlink(SegmentKind::ShareableList, name)
    }

    fn entry(&self, i: usize) -> &Entry {
        // SAFETY: i < count, and the table fits the tail (checked in attach).
        unsafe { &*self.seg.tail().cast::<Entry>().add(i) }
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: the table fits the tail (checked in attach).
        unsafe { self.seg.tail().add(self.count * std::mem::size_of::<Entry>()) }
    }

    /// The element count.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the list has no elements.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn check_index(&self, i: usize) -> Result<()> {
        if i >= self.count {
            return Err(Error::new(ErrorKind::Index, format!("index {i} out of range for length {}", self.count)));
        }
        Ok(())
    }

    /// Slot `i`'s capacity in the value's own bytes (see the module doc).
    pub fn capacity(&self, i: usize) -> Result<usize> {
        self.check_index(i)?;
        Ok(self.slots[i].1)
    }

    /// Torn slots repaired so far.
    pub fn repairs(&self) -> u64 {
        self.seg.state().repairs.load(Ordering::Relaxed)
    }

    fn lock(&self) -> Result<RobustMutexGuard<'_>> {
        let (g, state) = self.seg.state().lock.lock()?;
        if state == LockState::OwnerDied {
            for i in 0..self.count {
                if self.slot_bytes(i).is_none_or(|b| check_scalar(&b).is_err()) {
                    self.store(i, &[CBOR_NULL]);
                    // Relaxed: a statistic.
                    self.seg.state().repairs.fetch_add(1, Ordering::Relaxed);
                }
            }
            g.mark_consistent();
        }
        Ok(g)
    }

    /// Slot `i`'s bytes (under the lock); `None` when its stored length
    /// exceeds its slot (a corrupted segment).
    fn slot_bytes(&self, i: usize) -> Option<Vec<u8>> {
        let (offset, cap) = self.slots[i];
        // Relaxed: under the lock.
        let len = self.entry(i).len.load(Ordering::Relaxed) as usize;
        if len > cap + SLOT_HEAD {
            return None;
        }
        let mut v = vec![0u8; len];
        // SAFETY: offset + cap + SLOT_HEAD <= data_len (validated at attach
        // and kept in process memory), and len <= cap + SLOT_HEAD.
        unsafe { std::ptr::copy_nonoverlapping(self.data().add(offset), v.as_mut_ptr(), len) };
        Some(v)
    }

    /// Writes `item` into slot `i` (under the lock); `item.len()` <= the
    /// slot's length, capacity + SLOT_HEAD (checked by callers).
    fn store(&self, i: usize, item: &[u8]) {
        let (offset, cap) = self.slots[i];
        assert!(item.len() <= cap + SLOT_HEAD, "store: item larger than its slot");
        // Mark the slot as being written (a length past any capacity) for
        // the duration of the copy: a writer killed mid-copy leaves the
        // mark, and the next locker's owner-dead repair nulls the item.
        // Without it, a half-old half-new item of the same length could
        // still decode and be served as a value nobody wrote.
        // Relaxed, with compiler fences: every other access is under the
        // lock, so the only observer that matters is a later locker after
        // this process died mid-way. A killed process stops between
        // instructions, and its exit and the robust-mutex handoff order all
        // its completed stores before that locker's acquire; so the locker
        // sees a prefix of this thread's stores in program order, and the
        // fences keep the compiler from moving the copy across the marks.
        self.entry(i).len.store(SLOT_BEING_WRITTEN, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        // SAFETY: offset + cap + SLOT_HEAD <= data_len (validated at
        // attach, kept in process memory) and item.len() <= cap + SLOT_HEAD.
        unsafe { std::ptr::copy_nonoverlapping(item.as_ptr(), self.data().add(offset), item.len()) };
        compiler_fence(Ordering::SeqCst);
        self.entry(i).len.store(item.len() as u32, Ordering::Relaxed);
    }

    /// Element `i`, CBOR-encoded exactly as stored.
    pub fn get(&self, i: usize) -> Result<Vec<u8>> {
        self.check_index(i)?;
        let _g = self.lock()?;
        self.slot_bytes(i).ok_or_else(|| {
            Error::new(ErrorKind::Corrupt, format!("item {i}: stored length exceeds its slot (corrupted segment)"))
        })
    }

    /// Stores the CBOR scalar `item` at `i`: [`ErrorKind::Type`] for a
    /// non-scalar, [`ErrorKind::Corrupt`] for bytes that are not
    /// well-formed CBOR, [`ErrorKind::TooBig`] when its value's own bytes (see
    /// the module doc) exceed the slot's capacity.
    pub fn set(&self, i: usize, item: &[u8]) -> Result<()> {
        self.check_index(i)?;
        check_scalar(item)?;
        let cap = self.slots[i].1;
        let need = value_len(item);
        // The second test is implied by the first (a head is at most
        // SLOT_HEAD bytes beyond a value of at most `cap`); it keeps
        // `store`'s assertion unreachable whatever a caller passes.
        if need > cap || item.len() > cap + SLOT_HEAD {
            return Err(Error::new(
                ErrorKind::TooBig,
                format!("a value of {need} bytes exceeds slot {i}'s capacity of {cap} bytes"),
            ));
        }
        let _g = self.lock()?;
        self.store(i, item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_split_into_checked_items() {
        let items = split_items(&[0x84, 0x01, 0x62, b'h', b'i', 0xf6, 0xfa, 0, 0, 0, 0]).unwrap();
        assert_eq!(items, vec![&[0x01][..], &[0x62, b'h', b'i'], &[0xf6], &[0xfa, 0, 0, 0, 0]]);
        assert!(split_items(&[0x80]).unwrap().is_empty());
        // Well-formed CBOR but not a definite array of at most the limit.
        for bad in [&[0x01][..], &[0x9f, 0xff], &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]] {
            assert_eq!(split_items(bad).unwrap_err().kind(), ErrorKind::Invalid, "{bad:x?}");
        }
        // Items a list cannot hold.
        for bad in [&[0x81, 0x80][..], &[0x81, 0xc1, 0x00], &[0x81, 0x5f, 0xff]] {
            assert_eq!(split_items(bad).unwrap_err().kind(), ErrorKind::Type, "{bad:x?}");
        }
        // Not well-formed CBOR: a decode error, MP_E_CORRUPT (issue 20, item 6).
        for bad in [
            &[][..],
            &[0x82, 0x01],
            &[0x81, 0x01, 0x02],
            &[0x98],
            &[0x9c],
            &[0x81, 0x62, b'h'],
            &[0x81, 0x1c],
            &[0x81, 0xff],
            &[0x81, 0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ] {
            let e = split_items(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Corrupt, "{bad:x?}: {e}");
            assert!(e.message().starts_with("not well-formed CBOR"), "{e}");
        }
    }

    #[test]
    fn scalars_are_checked_exactly() {
        for ok in [
            &[0x00][..],
            &[0x18, 0xff],
            &[0x3b, 1, 2, 3, 4, 5, 6, 7, 8],
            &[0x43, 1, 0, 2],
            &[0x62, b'h', b'i'],
            &[0xf4],
            &[0xf5],
            &[0xf6],
            &[0xf9, 0x3c, 0x00],
            &[0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0],
        ] {
            check_scalar(ok).unwrap_or_else(|e| panic!("{ok:x?}: {e}"));
        }
        // Well-formed, but not an item a list holds.
        for bad in [&[0x80][..], &[0xa0], &[0xc2, 0x41, 1], &[0xf7], &[0xf8, 0x20], &[0x5f, 0xff], &[0x7f, 0xff]] {
            assert_eq!(check_scalar(bad).unwrap_err().kind(), ErrorKind::Type, "{bad:x?}");
        }
        // Malformed: MP_E_CORRUPT, as a decode error is in every binding.
        for bad in [
            &[][..],
            &[0x18],
            &[0x00, 0x00],
            &[0x43, 1, 0],
            &[0x41, 1, 0],
            &[0x62, 0xff, 0xfe],
            &[0xfb, 0],
            &[0xf6, 0],
            &[0x1c],
            &[0xff],
            &[0x1f],
        ] {
            assert_eq!(check_scalar(bad).unwrap_err().kind(), ErrorKind::Corrupt, "{bad:x?}");
        }
    }

    #[test]
    fn slots_are_sized_as_python_sizes_them() {
        let name = format!("t-sl-{}-sizing", std::process::id());
        // 1, 0, "abcdefgh", b"xy", null
        let items: [&[u8]; 5] = [&[0x01], &[0x00], b"\x68abcdefgh", &[0x42, b'x', b'y'], &[0xf6]];
        let l = ShareableList::open(&name, Some(&items), &OpenOptions::default()).unwrap();
        let caps: Vec<usize> = (0..5).map(|i| l.capacity(i).unwrap()).collect();
        assert_eq!(caps, vec![8, 8, 16, 8, 8]);
        // Any int64 and any float fit a number's slot.
        let i64_min = [0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        l.set(0, &i64_min).unwrap();
        assert_eq!(l.get(0).unwrap(), i64_min);
        let half = [0xfb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0];
        l.set(1, &half).unwrap();
        assert_eq!(l.get(1).unwrap(), half);
        // Text counts its UTF-8 bytes: 16 fit the 8-byte text's slot, 17 do not.
        let t16 = [&[0x70][..], &[b'z'; 16]].concat();
        l.set(2, &t16).unwrap();
        assert_eq!(l.get(2).unwrap(), t16);
        let t17 = [&[0x71][..], &[b'z'; 17]].concat();
        assert_eq!(l.set(2, &t17).unwrap_err().kind(), ErrorKind::TooBig);
        // An 8-byte text fits a number's slot; 9 bytes do not.
        let t8 = [&[0x68][..], &[b'q'; 8]].concat();
        l.set(4, &t8).unwrap();
        assert_eq!(l.get(4).unwrap(), t8);
        let b9 = [&[0x49][..], &[7u8; 9]].concat();
        assert_eq!(l.set(4, &b9).unwrap_err().kind(), ErrorKind::TooBig);
        ShareableList::unlink(&name).unwrap();
        // No items at all.
        let empty = ShareableList::open(&name, Some(&[]), &OpenOptions::default()).unwrap();
        assert!(empty.is_empty());
        assert_eq!(ShareableList::open(&name, None, &OpenOptions::default()).unwrap().len(), 0);
        ShareableList::unlink(&name).unwrap();
    }

    #[test]
    fn a_writer_killed_mid_write_leaves_no_torn_item() {
        let name = format!("t-sl-{}-torn", std::process::id());
        let items: [&[u8]; 2] = [&[0x64, b'a', b'b', b'c', b'd'], &[0x01]];
        let opts = OpenOptions::default();
        let l = ShareableList::open(&name, Some(&items), &opts).unwrap();
        // SAFETY: the child takes the list's robust lock, tears slot 0 (a
        // text header promising 4 bytes, followed by 1) and dies holding
        // the lock, as a writer killed mid-copy would.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let (g, _) = l.seg.state().lock.lock().unwrap();
            l.store(0, &[0x64, b'z']);
            std::mem::forget(g);
            // SAFETY: leaving the child without unlocking.
            unsafe { libc::_exit(0) };
        }
        let mut st = 0;
        // SAFETY: our child.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        assert_eq!(l.get(0).unwrap(), vec![CBOR_NULL], "the torn item became null");
        assert_eq!(l.get(1).unwrap(), vec![0x01], "intact items are kept");
        assert_eq!(l.repairs(), 1);
        l.set(0, &[0x63, b'x', b'y', b'z']).unwrap();
        assert_eq!(l.get(0).unwrap(), vec![0x63, b'x', b'y', b'z']);
        ShareableList::unlink(&name).unwrap();
    }

    #[test]
    fn a_writer_killed_mid_copy_of_a_same_length_item_leaves_null() {
        // What `store` leaves when killed half way through copying "zzzz"
        // over "abcd": the being-written mark and "zzcd", which still
        // decodes. The repair must null it, not serve a value nobody wrote.
        let name = format!("t-sl-{}-torn-same", std::process::id());
        let items: [&[u8]; 2] = [&[0x64, b'a', b'b', b'c', b'd'], &[0x01]];
        let l = ShareableList::open(&name, Some(&items), &OpenOptions::default()).unwrap();
        // SAFETY: the child takes the robust lock, does the first half of
        // a store and dies holding the lock.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let (g, _) = l.seg.state().lock.lock().unwrap();
            let (offset, _) = l.slots[0];
            l.entry(0).len.store(SLOT_BEING_WRITTEN, Ordering::Relaxed);
            // SAFETY: inside slot 0 (offset + 3 <= its capacity of 8).
            unsafe { std::ptr::copy_nonoverlapping([0x64, b'z', b'z'].as_ptr(), l.data().add(offset), 3) };
            std::mem::forget(g);
            // SAFETY: leaving the child without unlocking.
            unsafe { libc::_exit(0) };
        }
        let mut st = 0;
        // SAFETY: our child.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        assert_eq!(l.get(0).unwrap(), vec![CBOR_NULL], "the half-written item became null");
        assert_eq!(l.get(1).unwrap(), vec![0x01]);
        assert_eq!(l.repairs(), 1);
        ShareableList::unlink(&name).unwrap();
    }

    #[test]
    fn a_table_rewritten_after_attach_cannot_steer_accesses() {
        let name = format!("t-sl-{}-toctou", std::process::id());
        let items: [&[u8]; 2] = [&[0x61, b'a'], &[0x02]];
        let l = ShareableList::open(&name, Some(&items), &OpenOptions::default()).unwrap();
        // A peer rewrites slot 0's offset far past the mapping: ignored, the
        // offsets validated at attach are used.
        // SAFETY: the entry lives in our mapping; a raw write stands for a
        // hostile peer's.
        unsafe { std::ptr::addr_of!(l.entry(0).offset).cast_mut().write_volatile(1 << 40) };
        assert_eq!(l.get(0).unwrap(), vec![0x61, b'a']);
        l.set(0, &[0x61, b'b']).unwrap();
        assert_eq!(l.get(0).unwrap(), vec![0x61, b'b']);
        // A stored length beyond the slot is reported, not clamped or read.
        l.entry(1).len.store(1000, Ordering::Relaxed);
        assert_eq!(l.get(1).unwrap_err().kind(), ErrorKind::Corrupt);
        ShareableList::unlink(&name).unwrap();
    }
}
