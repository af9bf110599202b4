//! Read replicas of manager dicts in shared memory (issue #17 §2/§3;
//! docs/PROTOCOL.md §4.3 describes the segment field by field,
//! docs/DECISIONS.md "Local dict reads from a server-written replica" the
//! why).
//!
//! The server keeps, per dict that a local client asked for, a segment in
//! a sealed memfd: a header, an open-addressing hash table and an arena of
//! key and value bytes. Only the server writes it, inside the dict's mutex,
//! in the same step as the mutation and before the reply; clients on the
//! same host map it read-only (the fd is passed over the Unix socket) and
//! serve `get`, `contains` and `len` from it without a round trip.
//!
//! Consistency is a seqlock: the writer makes `seq` odd, changes the table
//! and arena, makes `seq` even again; a reader copies what it needs
//! between two loads of `seq` and keeps the copy only when both are the
//! same even value. Every byte of the segment is read and written through
//! atomics (`AtomicU32` / `AtomicU64`, Relaxed inside the section): a
//! reader racing a writer is then no data race in Rust's model, only a
//! stale or mixed copy, which the second load of `seq` detects.
//!
//! A reader never trusts the segment: the sizes it relies on are checked
//! once when it maps the segment (and kept in its own memory), and every
//! offset, length and index read afterwards is checked against them before
//! use, so a torn read, a bug or a hostile writer gives a fallback to the
//! RPC, never an out-of-bounds read, a crash or an unbounded allocation.

use crate::error::{Error, ErrorKind, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// `"MPIPCRPL"` as a little-endian u64: the segment's first 8 bytes.
pub const MAGIC: u64 = u64::from_le_bytes(*b"MPIPCRPL");
/// The layout described here; a reader refuses any other.
pub const VERSION: u32 = 1;
/// The header's size: the table starts right after it.
pub const HEADER: usize = 128;
/// One table slot: tag, offset, key length, value length (4 x u32).
pub const SLOT: usize = 16;

// Header fields (byte offsets). Fixed for a segment's life: magic,
// version, header size, nslots, size, table, arena, arena_len,
// generation. Changed by the writer inside a section: seed, count, used.
// `seq` and `state` are the synchronisation words.
const H_MAGIC: usize = 0;
const H_VERSION: usize = 8;
const H_HEADER_SIZE: usize = 12;
const H_SEQ: usize = 16;
const H_STATE: usize = 24;
const H_NSLOTS: usize = 28;
const H_SIZE: usize = 32;
const H_TABLE: usize = 40;
const H_ARENA: usize = 48;
const H_ARENA_LEN: usize = 56;
const H_SEED: usize = 64;
const H_COUNT: usize = 72;
const H_USED: usize = 80;
const H_GENERATION: usize = 88;

/// `state`: the segment is current.
const LIVE: u32 = 0;
/// `state`: the segment will not change again (the dict was deleted, the
/// replica was replaced by a larger one or given up, the server stopped):
/// a reader drops it and asks again (or uses the RPC).
const RETIRED: u32 = 1;

/// Slot tags: 0 = empty (ends a probe), 1 = deleted (a probe goes on);
/// an entry's tag is the high half of its hash with the top bit set.
const EMPTY: u32 = 0;
const TOMB: u32 = 1;
/// The value length of an entry whose value is not in the replica (over
/// [`MAX_VALUE`]): the key is there (so a miss stays authoritative), the
/// value is read with the RPC.
const REMOTE: u32 = u32::MAX;

/// Every key sits at most this many slots after its home slot (the writer
/// rebuilds rather than probe further), so a reader's probe is bounded
/// and a miss after it is authoritative.
pub const MAX_PROBE: usize = 32;
/// The largest segment a dict's replica may take (header, table and
/// arena): a dict whose encoded entries need more is not replicated (its
/// clients use the RPC), which bounds the memory a replica costs.
/// (1 MiB in this crate's unit tests, so that a test can go over it.)
pub const MAX_SEGMENT: usize = if cfg!(test) { 1 << 20 } else { 64 << 20 };
/// Values longer than this are left out of the replica (their key stays,
/// marked `REMOTE`): one huge value must not make every small one pay
/// its copies when the arena is rebuilt.
pub const MAX_VALUE: usize = 64 << 10;
/// How many times a reader retries a section that a writer changed under
/// it before it gives up and uses the RPC (which waits on the dict's
/// mutex like every other call). A write section lasts well under a
/// microsecond; a rebuild longer, and then the RPC is the right wait.
const READ_ATTEMPTS: u32 = 128;

/// The result of a local read.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The key is there; the value was copied out.
    Found,
    /// The key is not in the dict (authoritative).
    Missing,
    /// The count of entries (`len`).
    Len(u64),
    /// Ask the server: the value is not replicated, or writers kept
    /// changing the segment.
    Fallback,
    /// The segment will not change again: map the current one (or use
    /// the RPC).
    Retired,
    /// The segment's contents are inconsistent with its own layout (a bug
    /// or a hostile writer): drop it and use the RPC.
    Corrupt,
}

/// The keyed hash of a key's canonical bytes. The seed is random per
/// segment (a client cannot aim keys at one slot without knowing it), and
/// the writer keeps every probe within [`MAX_PROBE`] whatever the keys.
pub fn hash(seed: u64, key: &[u8]) -> u64 {
    const K1: u64 = 0x9e37_79b9_7f4a_7c15;
    const K2: u64 = 0xbf58_476d_1ce4_e5b9;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(K1);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h ^ w).wrapping_mul(K2).rotate_left(31);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(K1).rotate_left(29);
    }
    // MurmurHash3's finaliser: every input bit reaches every output bit.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn tag_of(h: u64) -> u32 {
    ((h >> 32) as u32) | 0x8000_0000
}

fn round8(n: usize) -> usize {
    (n + 7) & !7
}

/// A mapping of a segment, as raw memory accessed through atomics only.
#[derive(Debug)]
struct Region {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the region is accessed only through atomic operations (see the
// module comment), which may be performed from any thread.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// The u32 at `off`; `None` when it is not inside the mapping or not
    /// aligned.
    fn u32(&self, off: usize) -> Option<&AtomicU32> {
        if off % 4 != 0 || off.checked_add(4)? > self.len {
            return None;
        }
        // SAFETY: in bounds and aligned (checked above); the mapping lives
        // as long as `self`; the memory is only accessed atomically.
        Some(unsafe { &*(self.ptr.add(off) as *const AtomicU32) })
    }

    /// The u64 at `off` (as [`Region::u32`]).
    fn u64(&self, off: usize) -> Option<&AtomicU64> {
        if off % 8 != 0 || off.checked_add(8)? > self.len {
            return None;
        }
        // SAFETY: as in `u32`.
        Some(unsafe { &*(self.ptr.add(off) as *const AtomicU64) })
    }

    /// A header word: the header is inside every region (checked when it
    /// is made), so these cannot fail.
    fn h32(&self, off: usize) -> &AtomicU32 {
        self.u32(off).expect("a header field")
    }

    fn h64(&self, off: usize) -> &AtomicU64 {
        self.u64(off).expect("a header field")
    }

    /// Calls `f` on each aligned 8-byte word that overlaps
    /// `[off, off + len)`, with the byte range of the word inside it;
    /// `None` (nothing called) when the words are not all in the mapping.
    fn words(&self, off: usize, len: usize, mut f: impl FnMut(&AtomicU64, usize, usize) -> bool) -> Option<bool> {
        let end = off.checked_add(len)?;
        if round8(end) > self.len || end < off {
            return None;
        }
        let mut p = off & !7;
        while p < end {
            let w = self.u64(p)?;
            let lo = off.max(p) - p;
            let hi = end.min(p + 8) - p;
            if !f(w, lo, hi) {
                return Some(false);
            }
            p += 8;
        }
        Some(true)
    }

    /// Appends the bytes `[off, off + len)` to `out` (Relaxed loads).
    fn copy_out(&self, off: usize, len: usize, out: &mut Vec<u8>) -> Option<()> {
        if round8(off.checked_add(len)?) > self.len {
            return None;
        }
        out.reserve(len);
        self.words(off, len, |w, lo, hi| {
            // Relaxed: inside a seqlock read section; the reader's Acquire
            // fence and second load of `seq` decide whether it counts.
            out.extend_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes()[lo..hi]);
            true
        })
        .map(|_| ())
    }

    /// Whether the bytes `[off, off + want.len())` equal `want`.
    fn equals(&self, off: usize, want: &[u8]) -> Option<bool> {
        let mut i = 0;
        self.words(off, want.len(), |w, lo, hi| {
            // Relaxed: as in `copy_out`.
            let b = w.load(Ordering::Relaxed).to_ne_bytes();
            let same = b[lo..hi] == want[i..i + hi - lo];
            i += hi - lo;
            same
        })
    }

    /// Writes `parts`, back to back, at `off` (8-aligned), zero-padding the
    /// last word (writer only, inside a section).
    fn write_at(&self, off: usize, parts: &[&[u8]]) {
        debug_assert!(off % 8 == 0);
        let mut word = [0u8; 8];
        let mut fill = 0;
        let mut p = off;
        for part in parts {
            for &b in *part {
                word[fill] = b;
                fill += 1;
                if fill == 8 {
                    // Relaxed: inside a write section, after the Release
                    // fence that follows the odd `seq` store.
                    self.u64(p).expect("inside the arena").store(u64::from_ne_bytes(word), Ordering::Relaxed);
                    p += 8;
                    fill = 0;
                    word = [0u8; 8];
                }
            }
        }
        if fill > 0 {
            self.u64(p).expect("inside the arena").store(u64::from_ne_bytes(word), Ordering::Relaxed);
        }
    }
}

/// The sizes a segment is made with.
fn segment_size(nslots: usize, arena_len: usize) -> usize {
    HEADER + nslots * SLOT + arena_len
}

/// The writer's side of a segment: the server's read-write mapping and
/// its own copy of the allocation state (never read back from shared
/// memory).
pub struct Writer {
    fd: OwnedFd,
    region: Region,
    nslots: usize,
    table: usize,
    arena: usize,
    arena_len: usize,
    /// Arena bytes handed out (bump allocation, 8-aligned records;
    /// replaced and deleted records stay until a `fill` compacts them).
    used: usize,
    live: usize,
    tombs: usize,
    seed: u64,
    generation: u64,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("nslots", &self.nslots)
            .field("arena_len", &self.arena_len)
            .field("used", &self.used)
            .field("live", &self.live)
            .field("generation", &self.generation)
            .finish()
    }
}

fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: b is 8 writable bytes.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), 8, 0) };
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    // Without getrandom (never on a supported kernel) the clock still
    // varies the seed between segments.
    u64::from_ne_bytes(b) ^ if n == 8 { 0 } else { t.rotate_left(17) ^ (&b as *const _ as u64) }
}

impl Writer {
    /// A new segment with `nslots` slots (a power of two) and an arena of
    /// `arena_len` bytes, empty, LIVE; sealed so that nobody else can
    /// write, grow or shrink it.
    pub fn create(nslots: usize, arena_len: usize, generation: u64) -> Result<Writer> {
        assert!(nslots.is_power_of_two() && arena_len % 8 == 0);
        let size = segment_size(nslots, arena_len);
        if size > MAX_SEGMENT || arena_len > u32::MAX as usize {
            return Err(Error::new(ErrorKind::TooBig, "dict replica over its size limit"));
        }
        // SAFETY: a NUL-terminated name and valid flags.
        let raw =
            unsafe { libc::memfd_create(c"mpipc-dict-replica".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
        if raw < 0 {
            return Err(Error::from_io("memfd_create (dict replica)", std::io::Error::last_os_error()));
        }
        // SAFETY: raw is a new descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: fd is a valid memfd.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), size as libc::off_t) } != 0 {
            return Err(Error::from_io("ftruncate (dict replica)", std::io::Error::last_os_error()));
        }
        // SAFETY: a new shared mapping of the whole file, which is `size`
        // bytes long; checked for failure below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Error::from_io("mmap (dict replica)", std::io::Error::last_os_error()));
        }
        // Seal: no size change ever (a shrink would make readers' pages
        // vanish: SIGBUS), and no write access for anyone but this
        // mapping (F_SEAL_FUTURE_WRITE: clients and anyone they hand the
        // descriptor to can map it read-only only). Seals cannot be
        // removed; F_SEAL_SEAL stops anyone adding more.
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_FUTURE_WRITE | libc::F_SEAL_SEAL;
        // SAFETY: fcntl on our own descriptor.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
            let e = std::io::Error::last_os_error();
            // SAFETY: unmapping what we just mapped.
            unsafe { libc::munmap(ptr, size) };
            return Err(Error::from_io("seal (dict replica)", e));
        }
        let region = Region { ptr: ptr.cast(), len: size };
        let w = Writer {
            fd,
            region,
            nslots,
            table: HEADER,
            arena: HEADER + nslots * SLOT,
            arena_len,
            used: 0,
            live: 0,
            tombs: 0,
            seed: random_seed(),
            generation,
        };
        // The file starts zeroed (seq 0, state LIVE, every slot EMPTY);
        // the fields below are written before the descriptor leaves this
        // process, and sending it is a system call that orders them before
        // anything a reader does with it.
        let r = &w.region;
        r.h64(H_MAGIC).store(MAGIC, Ordering::Relaxed);
        r.h32(H_VERSION).store(VERSION, Ordering::Relaxed);
        r.h32(H_HEADER_SIZE).store(HEADER as u32, Ordering::Relaxed);
        r.h32(H_NSLOTS).store(nslots as u32, Ordering::Relaxed);
        r.h64(H_SIZE).store(size as u64, Ordering::Relaxed);
        r.h64(H_TABLE).store(w.table as u64, Ordering::Relaxed);
        r.h64(H_ARENA).store(w.arena as u64, Ordering::Relaxed);
        r.h64(H_ARENA_LEN).store(arena_len as u64, Ordering::Relaxed);
        r.h64(H_SEED).store(w.seed, Ordering::Relaxed);
        r.h64(H_GENERATION).store(generation, Ordering::Relaxed);
        Ok(w)
    }

    /// Sizes a segment for `count` entries of `bytes` key and value bytes
    /// in all, with room to grow (table at most half full, arena at most
    /// half used once filled); `None` when that is over [`MAX_SEGMENT`].
    pub fn sized_for(count: usize, bytes: usize, generation: u64) -> Option<Result<Writer>> {
        let nslots = (count * 2).max(64).checked_next_power_of_two()?;
        let arena = round8((bytes + count * 8).saturating_mul(2).max(4096));
        if segment_size(nslots, arena) > MAX_SEGMENT {
            return None;
        }
        Some(Writer::create(nslots, arena, generation))
    }

    /// The descriptor (for passing to a client).
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// The number of table slots (tests).
    #[cfg(test)]
    pub fn slots(&self) -> usize {
        self.nslots
    }

    /// This segment's generation (a counter per dict).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The whole segment's size in bytes.
    pub fn size(&self) -> usize {
        self.region.len
    }

    /// Runs `f` as one write section: `seq` odd while it runs.
    pub fn section<T>(&mut self, f: impl FnOnce(&mut Writer) -> T) -> T {
        // Only this writer (under the dict's mutex) stores `seq`: Relaxed
        // reads its own last store.
        let s = self.region.h64(H_SEQ).load(Ordering::Relaxed);
        self.region.h64(H_SEQ).store(s.wrapping_add(1) | 1, Ordering::Relaxed);
        // Release fence: orders the odd store before every store of the
        // section, so a reader that sees any of them (and then runs its
        // Acquire fence) also sees `seq` changed on its second load.
        fence(Ordering::Release);
        let out = f(self);
        // Release: every store of the section happens before a reader's
        // Acquire load that sees this even value.
        self.region.h64(H_SEQ).store((s | 1).wrapping_add(1), Ordering::Release);
        out
    }

    /// Marks the segment RETIRED (it will not change again).
    pub fn retire(&mut self) {
        self.section(|w| w.region.h32(H_STATE).store(RETIRED, Ordering::Relaxed));
    }

    fn slot(&self, i: usize) -> usize {
        self.table + (i & (self.nslots - 1)) * SLOT
    }

    fn slot_fields(&self, s: usize) -> [u32; 4] {
        // The writer's own stores: Relaxed loads read them back.
        [0, 4, 8, 12].map(|o| self.region.h32_at(s + o).load(Ordering::Relaxed))
    }

    fn set_slot(&self, s: usize, fields: [u32; 4]) {
        for (o, v) in [0, 4, 8, 12].into_iter().zip(fields) {
            // Relaxed: inside a section (see `section`).
            self.region.h32_at(s + o).store(v, Ordering::Relaxed);
        }
    }

    /// Finds `key`: `Ok(slot)` where it is, or `Err(Some(slot))` the first
    /// free slot of its probe where it would go, `Err(None)` when the
    /// probe holds neither.
    fn find(&self, key: &[u8], h: u64) -> std::result::Result<usize, Option<usize>> {
        let tag = tag_of(h);
        let mut free = None;
        for p in 0..MAX_PROBE.min(self.nslots) {
            let s = self.slot(h as usize + p);
            let [t, off, klen, _] = self.slot_fields(s);
            if t == EMPTY {
                return Err(free.or(Some(s)));
            }
            if t == TOMB {
                free = free.or(Some(s));
            } else if t == tag
                && klen as usize == key.len()
                && self.region.equals(self.arena + off as usize, key) == Some(true)
            {
                return Ok(s);
            }
        }
        Err(free)
    }

    /// Bytes a record of `key` and `value` takes in the arena.
    pub fn record_len(key: &[u8], value: &[u8]) -> usize {
        round8(key.len() + if value.len() > MAX_VALUE { 0 } else { value.len() })
    }

    /// Sets `key` to `value` inside a section. `false` when it does not
    /// fit (arena full, probe too long, table too full): the caller
    /// rebuilds.
    fn put_in(&mut self, key: &[u8], value: &[u8]) -> bool {
        let h = hash(self.seed, key);
        let remote = value.len() > MAX_VALUE;
        let stored: &[u8] = if remote { &[] } else { value };
        let vlen = if remote { REMOTE } else { value.len() as u32 };
        let need = Self::record_len(key, value);
        match self.find(key, h) {
            Ok(s) => {
                let [t, off, klen, old_vlen] = self.slot_fields(s);
                let old = round8(klen as usize + if old_vlen == REMOTE { 0 } else { old_vlen as usize });
                if need <= old {
                    // Rewrite the record in place (its key bytes are the
                    // same), then the new length.
                    self.region.write_at(self.arena + off as usize, &[key, stored]);
                    self.set_slot(s, [t, off, klen, vlen]);
                    return true;
                }
                let Some(off) = self.alloc(need) else { return false };
                self.region.write_at(self.arena + off, &[key, stored]);
                self.set_slot(s, [t, off as u32, klen, vlen]);
                true
            }
            Err(Some(s)) => {
                let was_tomb = self.slot_fields(s)[0] == TOMB;
                if !was_tomb && (self.live + self.tombs + 1) * 4 > self.nslots * 3 {
                    return false;
                }
                let Some(off) = self.alloc(need) else { return false };
                self.region.write_at(self.arena + off, &[key, stored]);
                self.set_slot(s, [tag_of(h), off as u32, key.len() as u32, vlen]);
                if was_tomb {
                    self.tombs -= 1;
                }
                self.live += 1;
                self.region.h64(H_COUNT).store(self.live as u64, Ordering::Relaxed);
                true
            }
            Err(None) => false,
        }
    }

    fn alloc(&mut self, len: usize) -> Option<usize> {
        let off = self.used;
        if off + len > self.arena_len {
            return None;
        }
        self.used += len;
        self.region.h64(H_USED).store(self.used as u64, Ordering::Relaxed);
        Some(off)
    }

    /// Removes `key` inside a section (nothing if absent).
    fn remove_in(&mut self, key: &[u8]) {
        let h = hash(self.seed, key);
        if let Ok(s) = self.find(key, h) {
            self.set_slot(s, [TOMB, 0, 0, 0]);
            self.live -= 1;
            self.tombs += 1;
            self.region.h64(H_COUNT).store(self.live as u64, Ordering::Relaxed);
        }
    }

    /// Empties the table and arena (inside a section), with a new seed.
    fn reset_in(&mut self) {
        for i in 0..self.nslots {
            let s = self.slot(i);
            if self.slot_fields(s)[0] != EMPTY {
                self.set_slot(s, [EMPTY, 0, 0, 0]);
            }
        }
        self.used = 0;
        self.live = 0;
        self.tombs = 0;
        self.seed = random_seed();
        let r = &self.region;
        r.h64(H_SEED).store(self.seed, Ordering::Relaxed);
        r.h64(H_COUNT).store(0, Ordering::Relaxed);
        r.h64(H_USED).store(0, Ordering::Relaxed);
    }

    /// Sets `key` to `value` (one section); `false`: rebuild.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> bool {
        self.section(|w| w.put_in(key, value))
    }

    /// Removes `key` (one section).
    pub fn remove(&mut self, key: &[u8]) {
        self.section(|w| w.remove_in(key))
    }

    /// Replaces the contents with `entries` (one section: readers see the
    /// old contents or the new, never a mix); `false` when they do not fit
    /// this segment with room to spare (the caller makes a larger one).
    pub fn fill<'a>(&mut self, entries: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone) -> bool {
        let (count, bytes) =
            entries.clone().fold((0usize, 0usize), |(c, b), (k, v)| (c + 1, b + Self::record_len(k, v)));
        // At most half full afterwards: the next rebuild is at least as
        // many changes away as this one costs (amortised O(1) a change).
        if count * 2 > self.nslots || bytes * 2 > self.arena_len {
            return false;
        }
        self.section(|w| {
            // A new seed each time: keys that probed badly under the old
            // one (by chance or by design) are spread anew.
            w.reset_in();
            for (k, v) in entries {
                if !w.put_in(k, v) {
                    w.reset_in();
                    return false;
                }
            }
            true
        })
    }

    /// Writes `bytes` at `off` of the segment, bypassing every rule: lets
    /// a test play a corrupt or hostile writer.
    #[cfg(test)]
    pub fn scribble(&self, off: usize, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            let p = off + i;
            if let Some(w) = self.region.u64(p & !7) {
                let mut v = w.load(Ordering::Relaxed).to_ne_bytes();
                v[p & 7] = *b;
                w.store(u64::from_ne_bytes(v), Ordering::Relaxed);
            }
        }
    }

    /// Begins a write section and never ends it: a test plays a server
    /// that died mid-write.
    #[cfg(test)]
    pub fn begin_forever(&self) {
        let seq = self.region.h64(H_SEQ);
        seq.store(seq.load(Ordering::Relaxed) | 1, Ordering::Release);
    }
}

impl Region {
    /// A u32 the caller computed from sizes it validated (the writer's
    /// own, or a reader's checked ones).
    fn h32_at(&self, off: usize) -> &AtomicU32 {
        self.u32(off).expect("inside the segment")
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Readers that still map it learn it is no longer kept current.
        self.retire();
        // SAFETY: unmapping our own mapping, used by nothing after this.
        unsafe { libc::munmap(self.region.ptr.cast(), self.region.len) };
    }
}

/// A client's read-only mapping of a segment, with the layout it checked
/// when it mapped it (kept here, never re-read from the segment).
#[derive(Debug)]
pub struct Mapping {
    region: Region,
    nslots: usize,
    table: usize,
    arena: usize,
    arena_len: usize,
    generation: u64,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping, used by nothing after this.
        unsafe { libc::munmap(self.region.ptr.cast(), self.region.len) };
    }
}

impl Mapping {
    /// Maps the segment `fd` (a sealed memfd from the server) read-only,
    /// after checking it cannot shrink under us (a shrunk file would
    /// fault on access) and that its header describes a layout that fits
    /// the file. The descriptor is closed (the mapping keeps the memory).
    /// [`ErrorKind::Corrupt`] for anything else.
    pub fn map(fd: OwnedFd) -> Result<Mapping> {
        let bad = |m: &str| Error::new(ErrorKind::Corrupt, format!("dict replica refused: {m}"));
        // SAFETY: fcntl on a descriptor we own.
        let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
        if seals < 0 || seals & libc::F_SEAL_SHRINK == 0 {
            return Err(bad("not a memfd sealed against shrinking"));
        }
        // SAFETY: fstat into a zeroed stat.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
            return Err(Error::from_io("fstat (dict replica)", std::io::Error::last_os_error()));
        }
        let size = st.st_size as usize;
        if !(HEADER + SLOT..=MAX_SEGMENT).contains(&size) || size % 8 != 0 {
            return Err(bad("size out of range"));
        }
        // SAFETY: a new read-only shared mapping of the whole file, whose
        // size cannot shrink (sealed, checked above); checked for failure.
        let ptr =
            unsafe { libc::mmap(std::ptr::null_mut(), size, libc::PROT_READ, libc::MAP_SHARED, fd.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(Error::from_io("mmap (dict replica)", std::io::Error::last_os_error()));
        }
        drop(fd);
        let mut m = Mapping {
            region: Region { ptr: ptr.cast(), len: size },
            nslots: 0,
            table: 0,
            arena: 0,
            arena_len: 0,
            generation: 0,
        };
        // Relaxed: the fixed fields were written before the descriptor was
        // sent (a system call apart); and they are only trusted after the
        // checks below, against the size we measured ourselves.
        let r = &m.region;
        let ld32 = |o| r.h32(o).load(Ordering::Relaxed) as usize;
        let ld64 = |o| r.h64(o).load(Ordering::Relaxed);
        let (nslots, table, arena, arena_len) = (ld32(H_NSLOTS), ld64(H_TABLE), ld64(H_ARENA), ld64(H_ARENA_LEN));
        let ok = ld64(H_MAGIC) == MAGIC
            && ld32(H_VERSION) == VERSION as usize
            && ld32(H_HEADER_SIZE) == HEADER
            && ld64(H_SIZE) == size as u64
            && nslots.is_power_of_two()
            && table == HEADER as u64
            && (nslots as u64).checked_mul(SLOT as u64).and_then(|t| t.checked_add(table)) == Some(arena)
            && arena % 8 == 0
            && arena.checked_add(arena_len) == Some(size as u64);
        if !ok {
            return Err(bad("its header does not describe a valid layout"));
        }
        m.generation = ld64(H_GENERATION);
        (m.nslots, m.table, m.arena, m.arena_len) = (nslots, table as usize, arena as usize, arena_len as usize);
        Ok(m)
    }

    /// The segment's generation (as the server numbered it; tests).
    #[cfg(test)]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The segment's `seq` while it is current and no write is under way
    /// (`None` otherwise): equal values at two moments mean the dict did
    /// not change between them (every change, retirement included, moves
    /// `seq`).
    pub fn stable_seq(&self) -> Option<u64> {
        let r = &self.region;
        let seq = r.h64(H_SEQ);
        // Acquire: pairs with the writer's Release store of an even value
        // (so a retirement's state is seen with its `seq`).
        let s1 = seq.load(Ordering::Acquire);
        let live = r.h32(H_STATE).load(Ordering::Relaxed) == LIVE;
        // As in `read`: a state load that saw a later section makes the
        // second `seq` load see it moved.
        fence(Ordering::Acquire);
        (s1 & 1 == 0 && live && seq.load(Ordering::Relaxed) == s1).then_some(s1)
    }

    /// Runs `body` as a seqlock read section until it reads a state no
    /// writer changed meanwhile, at most [`READ_ATTEMPTS`] times. `body`
    /// returns `None` when what it read is inconsistent (out of bounds):
    /// torn by a writer if `seq` moved, else corrupt.
    fn read(&self, mut body: impl FnMut(&Mapping) -> Option<Lookup>) -> Lookup {
        let r = &self.region;
        let seq = r.h64(H_SEQ);
        for attempt in 0..READ_ATTEMPTS {
            if attempt > 0 {
                std::hint::spin_loop();
            }
            // Acquire: pairs with the writer's Release store of the even
            // value, so everything that section wrote is visible below.
            let s1 = seq.load(Ordering::Acquire);
            if s1 & 1 == 1 {
                continue; // a write in progress
            }
            // Relaxed: the state is only trusted if `seq` did not move.
            let retired = r.h32(H_STATE).load(Ordering::Relaxed) != LIVE;
            let out = if retired { Some(Lookup::Retired) } else { body(self) };
            // Acquire fence: if any load above saw a store of a section
            // that began after s1, the writer's Release fence (after its
            // odd store) synchronises with this fence, so the load below
            // sees `seq` changed.
            fence(Ordering::Acquire);
            if seq.load(Ordering::Relaxed) != s1 {
                continue; // torn: try again
            }
            return out.unwrap_or(Lookup::Corrupt);
        }
        Lookup::Fallback
    }

    /// Looks `key` (its canonical key bytes) up; on [`Lookup::Found`] the
    /// value's bytes are in `out` (replacing what it held), else `out` is
    /// unspecified. With `want_value` false only presence is checked.
    fn lookup(&self, key: &[u8], out: &mut Vec<u8>, want_value: bool) -> Lookup {
        self.read(|m| {
            let r = &m.region;
            // Relaxed: inside the read section.
            let seed = r.h64(H_SEED).load(Ordering::Relaxed);
            let h = hash(seed, key);
            let tag = tag_of(h);
            for p in 0..MAX_PROBE.min(m.nslots) {
                let s = m.table + ((h as usize + p) & (m.nslots - 1)) * SLOT;
                let f = |o: usize| r.u32(s + o).map(|a| a.load(Ordering::Relaxed));
                let t = f(0)?;
                if t == EMPTY {
                    return Some(Lookup::Missing);
                }
                if t == TOMB {
                    continue;
                }
                let (off, klen, vlen) = (f(4)? as usize, f(8)? as usize, f(12)?);
                let stored = if vlen == REMOTE { 0 } else { vlen as usize };
                // Every entry visited must lie inside the arena (checked
                // before any byte of it is read or any buffer sized by
                // it): damage to the table shows at the first probe that
                // crosses it, not only at the key's own slot.
                if off.checked_add(klen)?.checked_add(stored)? > m.arena_len {
                    return None;
                }
                if t != tag || klen != key.len() || !r.equals(m.arena + off, key)? {
                    continue;
                }
                if vlen == REMOTE {
                    return Some(Lookup::Fallback);
                }
                if want_value {
                    out.clear();
                    r.copy_out(m.arena + off + klen, stored, out)?;
                }
                return Some(Lookup::Found);
            }
            Some(Lookup::Missing)
        })
    }

    /// `get`: [`Lookup::Found`] with the value's bytes in `out`.
    pub fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Lookup {
        self.lookup(key, out, true)
    }

    /// `contains`: [`Lookup::Found`] or [`Lookup::Missing`] (or a reason
    /// to ask the server).
    pub fn contains(&self, key: &[u8]) -> Lookup {
        match self.lookup(key, &mut Vec::new(), false) {
            // A value left out of the replica is still a present key.
            Lookup::Fallback => Lookup::Fallback,
            other => other,
        }
    }

    /// `len`: [`Lookup::Len`].
    pub fn len(&self) -> Lookup {
        self.read(|m| {
            // Relaxed: inside the read section.
            let n = m.region.h64(H_COUNT).load(Ordering::Relaxed);
            // More entries than slots cannot be: corrupt.
            (n <= m.nslots as u64).then_some(Lookup::Len(n))
        })
    }
}

/// A read-only mapping of a writer's segment in this process (tests).
#[cfg(test)]
pub fn map_own(w: &Writer) -> Result<Mapping> {
    // SAFETY: dup of a live descriptor we own.
    let raw = unsafe { libc::fcntl(w.fd().as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    assert!(raw >= 0);
    // SAFETY: a new descriptor we own.
    Mapping::map(unsafe { OwnedFd::from_raw_fd(raw) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> Vec<u8> {
        // A CBOR unsigned integer, as a canonical key would be.
        let mut v = vec![0x1a];
        v.extend_from_slice(&i.to_be_bytes());
        v
    }

    #[test]
    fn put_get_remove_len_and_growth_by_fill() {
        let mut w = Writer::create(64, 4096, 1).unwrap();
        let m = map_own(&w).unwrap();
        let mut out = Vec::new();
        assert_eq!(m.get(&key(1), &mut out), Lookup::Missing);
        assert!(w.put(&key(1), b"\x41a"));
        assert_eq!(m.get(&key(1), &mut out), Lookup::Found);
        assert_eq!(out, b"\x41a");
        assert!(w.put(&key(1), b"\x43abc"), "a longer value moves");
        assert_eq!(m.get(&key(1), &mut out), Lookup::Found);
        assert_eq!(out, b"\x43abc");
        assert_eq!(m.len(), Lookup::Len(1));
        assert_eq!(m.contains(&key(1)), Lookup::Found);
        w.remove(&key(1));
        assert_eq!(m.get(&key(1), &mut out), Lookup::Missing);
        assert_eq!(m.len(), Lookup::Len(0));
        // Fill until it does not fit, then refill a larger one.
        let mut n = 0;
        while w.put(&key(n), &[0x58, 100]) {
            n += 1;
        }
        assert!(n > 10, "{n}");
        for i in 0..n {
            assert_eq!(m.get(&key(i), &mut out), Lookup::Found, "{i}");
        }
        let keys: Vec<Vec<u8>> = (0..n + 1).map(key).collect();
        let val = [0x58u8, 100];
        let mut big = Writer::sized_for(keys.len(), keys.len() * 12, 2).unwrap().unwrap();
        assert!(big.fill(keys.iter().map(|k| (&k[..], &val[..]))));
        w.retire();
        assert_eq!(m.get(&key(0), &mut out), Lookup::Retired);
        let m2 = map_own(&big).unwrap();
        assert_eq!(m2.generation(), 2);
        assert_eq!(m2.len(), Lookup::Len(u64::from(n) + 1));
        assert_eq!(m2.get(&key(n), &mut out), Lookup::Found);
    }

    /// What a client receives cannot be written, grown or shrunk: the
    /// seals refuse a writable shared mapping and any size change.
    #[test]
    fn a_reader_cannot_write_the_segment() {
        let w = Writer::create(64, 4096, 1).unwrap();
        // SAFETY: dup of our live descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(libc::fcntl(w.fd().as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0)) };
        // SAFETY: a mapping attempt that must fail (checked).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                w.size(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        assert_eq!(p, libc::MAP_FAILED, "a writable shared mapping must be refused");
        // SAFETY: size changes on our descriptor, which must fail.
        unsafe {
            assert_ne!(libc::ftruncate(fd.as_raw_fd(), 0), 0, "shrink refused");
            assert_ne!(libc::ftruncate(fd.as_raw_fd(), (w.size() * 2) as libc::off_t), 0, "growth refused");
            let b = [0u8; 1];
            assert!(libc::pwrite(fd.as_raw_fd(), b.as_ptr().cast(), 1, 0) < 0, "write(2) refused");
        }
        assert!(Mapping::map(fd).is_ok());
    }

    #[test]
    fn large_values_stay_with_the_server() {
        let mut w = Writer::create(64, 1 << 16, 1).unwrap();
        let m = map_own(&w).unwrap();
        let big = vec![7u8; MAX_VALUE + 1];
        assert!(w.put(&key(1), &big));
        let mut out = Vec::new();
        assert_eq!(m.get(&key(1), &mut out), Lookup::Fallback);
        assert_eq!(m.contains(&key(1)), Lookup::Fallback);
        assert_eq!(m.len(), Lookup::Len(1));
    }

    #[test]
    fn a_writer_that_never_finishes_sends_readers_to_the_server() {
        let w = Writer::create(64, 4096, 1).unwrap();
        let m = map_own(&w).unwrap();
        w.begin_forever();
        assert_eq!(m.get(&key(1), &mut Vec::new()), Lookup::Fallback);
    }

    /// Garbage anywhere in the segment (header, table, arena) gives a
    /// lookup some answer, never a crash, an out-of-bounds read or a huge
    /// allocation.
    #[test]
    fn garbage_never_crashes_a_reader() {
        let mut w = Writer::create(64, 4096, 1).unwrap();
        for i in 0..20 {
            assert!(w.put(&key(i), &[0x43, 1, 2, 3]));
        }
        let m = map_own(&w).unwrap();
        let size = w.size();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut out = Vec::new();
        for round in 0..3000 {
            let n = 1 + (rnd() % 16) as usize;
            // Mostly the header and the table, where offsets live.
            let at = (rnd() as usize) % if round % 2 == 0 { HEADER + 64 * SLOT } else { size };
            let bytes: Vec<u8> = (0..n).map(|_| rnd() as u8).collect();
            if round % 7 == 0 {
                // Keep `seq` even sometimes, so the body runs on garbage.
                w.scribble(H_SEQ, &[0; 8]);
            }
            w.scribble(at.min(size - n), &bytes);
            for i in 0..25 {
                let _ = m.get(&key(i), &mut out);
                assert!(out.capacity() <= size, "allocation bounded by the mapping");
                let _ = m.contains(&key(i));
            }
            let _ = m.len();
        }
    }

    /// A reader beside a writer rewriting the same keys never keeps a
    /// mixed value: each value carries its own checksum.
    #[test]
    fn no_torn_values_between_threads() {
        let mut w = Writer::create(64, 1 << 16, 1).unwrap();
        let m = map_own(&w).unwrap();
        let value = |n: u64, len: usize| {
            let mut v = vec![0x58, len as u8 + 16];
            v.extend_from_slice(&n.to_le_bytes());
            v.extend(std::iter::repeat_n(n as u8, len));
            v.extend_from_slice(&n.wrapping_mul(0x9e37_79b9).to_le_bytes());
            v
        };
        let check = |v: &[u8]| {
            let n = u64::from_le_bytes(v[2..10].try_into().unwrap());
            let len = v.len() - 18;
            assert_eq!(v[1] as usize, len + 16);
            assert!(v[10..10 + len].iter().all(|&b| b == n as u8), "torn value");
            assert_eq!(u64::from_le_bytes(v[10 + len..].try_into().unwrap()), n.wrapping_mul(0x9e37_79b9));
        };
        assert!(w.put(&key(0), &value(0, 8)));
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut out = Vec::new();
                let mut found = 0;
                while !stop.load(Ordering::Relaxed) || found == 0 {
                    if m.get(&key(0), &mut out) == Lookup::Found {
                        check(&out);
                        found += 1;
                    }
                }
            });
            for n in 1..200_000u64 {
                let len = (n % 40) as usize;
                if !w.put(&key(0), &value(n, len)) {
                    let v = value(n, len);
                    let k = key(0);
                    assert!(w.fill(std::iter::once((&k[..], &v[..]))));
                }
            }
            stop.store(true, Ordering::Relaxed);
        });
    }
}
