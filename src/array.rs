//! `Array` and `Value`: named typed arrays in shared memory (the C ABI's
//! `mp_array_*`; the raw block, `SharedMemory`, is
//! [`crate::shared_memory`]).
//!
//! [`Array`]: `length` elements of one of Python's typecodes with a
//! robust recursive lock beside them (Python's `Array`, whose default lock
//! is an RLock), or none; `/dev/shm/mpipc.a.<name>`. A `Value` is an
//! Array of length 1.
//!
//! It begins with the common segment header, so attaching checks kind,
//! version and size. Closing never unlinks: only [`Array::unlink`]
//! removes a name (Python's resource tracker unlinking blocks it merely
//! attached to is a long-standing bug we do not copy).
//!
//! The data is 64-byte aligned. Element access through the typed methods
//! takes the lock (when there is one); [`Array::as_ptr`] gives raw access
//! for callers that hold the lock themselves or need none.

use crate::error::{Error, ErrorKind, Result};
use crate::os::{Deadline, LockState};
use crate::segment::{self, NamedSegment, OpenOptions, SegmentKind};
use crate::sync::LockWord;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The layout version of arrays.
const ARRAY_LAYOUT: u32 = 1;

/// Python's array typecodes, with the sizes of the 64-bit Linux ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeCode {
    /// `c`: a byte (Python: `bytes` of length 1).
    Char,
    /// `b`: signed char.
    I8,
    /// `B`: unsigned char.
    U8,
    /// `h`: short.
    I16,
    /// `H`: unsigned short.
    U16,
    /// `i`: int.
    I32,
    /// `I`: unsigned int.
    U32,
    /// `l`: long (64-bit on Linux x86_64/aarch64).
    Long,
    /// `L`: unsigned long.
    ULong,
    /// `q`: long long.
    I64,
    /// `Q`: unsigned long long.
    U64,
    /// `f`: float.
    F32,
    /// `d`: double.
    F64,
}

impl TypeCode {
    /// Every typecode.
    pub const ALL: [TypeCode; 13] = [
        TypeCode::Char,
        TypeCode::I8,
        TypeCode::U8,
        TypeCode::I16,
        TypeCode::U16,
        TypeCode::I32,
        TypeCode::U32,
        TypeCode::Long,
        TypeCode::ULong,
        TypeCode::I64,
        TypeCode::U64,
        TypeCode::F32,
        TypeCode::F64,
    ];

    /// The typecode for Python's character `c`.
    pub fn from_char(c: u8) -> Result<TypeCode> {
        TypeCode::ALL.into_iter().find(|t| t.as_char() == c).ok_or_else(|| {
            Error::new(
                ErrorKind::Invalid,
                format!("unknown typecode {:?}; use one of c b B h H i I l L q Q f d", c as char),
            )
        })
    }

    /// Python's character for it.
    pub fn as_char(self) -> u8 {
        match self {
            TypeCode::Char => b'c',
            TypeCode::I8 => b'b',
            TypeCode::U8 => b'B',
            TypeCode::I16 => b'h',
            TypeCode::U16 => b'H',
            TypeCode::I32 => b'i',
            TypeCode::U32 => b'I',
            TypeCode::Long => b'l',
            TypeCode::ULong => b'L',
            TypeCode::I64 => b'q',
            TypeCode::U64 => b'Q',
            TypeCode::F32 => b'f',
            TypeCode::F64 => b'd',
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            TypeCode::Char | TypeCode::I8 | TypeCode::U8 => 1,
            TypeCode::I16 | TypeCode::U16 => 2,
            TypeCode::I32 | TypeCode::U32 | TypeCode::F32 => 4,
            TypeCode::Long | TypeCode::ULong | TypeCode::I64 | TypeCode::U64 | TypeCode::F64 => 8,
        }
    }

    /// Whether elements are floating point.
    pub fn is_float(self) -> bool {
        matches!(self, TypeCode::F32 | TypeCode::F64)
    }

    /// The range of an integer typecode, as i128.
    fn int_range(self) -> (i128, i128) {
        match self {
            TypeCode::I8 => (i8::MIN as i128, i8::MAX as i128),
            TypeCode::Char | TypeCode::U8 => (0, u8::MAX as i128),
            TypeCode::I16 => (i16::MIN as i128, i16::MAX as i128),
            TypeCode::U16 => (0, u16::MAX as i128),
            TypeCode::I32 => (i32::MIN as i128, i32::MAX as i128),
            TypeCode::U32 => (0, u32::MAX as i128),
            TypeCode::Long | TypeCode::I64 => (i64::MIN as i128, i64::MAX as i128),
            TypeCode::ULong | TypeCode::U64 => (0, u64::MAX as i128),
            TypeCode::F32 | TypeCode::F64 => (i128::MIN, i128::MAX),
        }
    }
}

/// The array header, after the common segment header.
#[repr(C)]
struct ArrayState {
    /// The lock beside the data (initialised only when `has_lock`).
    lock: LockWord,
    /// Element count.
    length: u64,
    /// Python's typecode character.
    typecode: u32,
    /// Bytes per element (checked against the typecode on attach).
    itemsize: u32,
    /// 1 when the lock is in use.
    has_lock: u32,
    _reserved: u32,
}

// The layout documented in docs/PROTOCOL.md §5.
const _: () = assert!(std::mem::offset_of!(ArrayState, length) == 64);
const _: () = assert!(crate::segment::tail_offset::<ArrayState>() == 192);

/// A named typed array in shared memory (Python's `Array`; a `Value` is
/// one of length 1). Thread-safe.
pub struct Array {
    seg: NamedSegment<ArrayState>,
    typecode: TypeCode,
    length: usize,
    /// Whether the array has a lock, read once at open: a peer corrupting
    /// the flag later cannot make this handle switch between locking and
    /// not locking (or lock a mutex that was never initialised).
    has_lock: bool,
    /// `lock` calls through this handle not yet `unlock`ed (process-local):
    /// a handle dropped while it is above 0 keeps its mapping (see
    /// [`NamedSegment::keep_mapped`]).
    holds: AtomicUsize,
}

impl Drop for Array {
    fn drop(&mut self) {
        // Relaxed: the handle is being dropped, no call is in flight.
        if self.holds.load(Ordering::Relaxed) > 0 {
            self.seg.keep_mapped();
        }
    }
}

/// The outcome of an access under an array's lock: the value, and whether
/// the lock was taken from a holder that died holding it (the access was
/// done; the data may hold that holder's half-finished update).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Guarded<T> {
    /// What the access produced.
    pub value: T,
    /// The previous holder of the lock died holding it.
    pub owner_died: bool,
}

/// A numeric element value, as read or written by the typed accessors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// Any integer typecode (and `c`), read as i128 to hold u64 and i64.
    Int(i128),
    /// `f` or `d`.
    Float(f64),
}

impl Array {
    /// Opens the array `name`: creates `length` zeroed elements of
    /// `typecode` (with a lock unless `no_lock`), or attaches: the typecode
    /// must match ([`ErrorKind::Type`]), the length too
    /// ([`ErrorKind::Invalid`]); `no_lock` is the creator's choice. `length`
    /// 0 attaches only, to any length.
    pub fn open(name: &str, typecode: u8, length: usize, no_lock: bool, opts: &OpenOptions) -> Result<Array> {
        let tc = TypeCode::from_char(typecode)?;
        let bytes = length.checked_mul(tc.size()).ok_or_else(|| Error::new(ErrorKind::Invalid, "array too large"))?;
        let opts = opts.attach_if(length == 0, "a new array needs a length of at least 1")?;
        let seg =
            NamedSegment::open(SegmentKind::Array, name, ARRAY_LAYOUT, bytes, &opts, |st: *mut ArrayState, _| {
                // SAFETY: the zeroed, unpublished state.
                unsafe {
                    (*st).length = length as u64;
                    (*st).typecode = tc.as_char() as u32;
                    (*st).itemsize = tc.size() as u32;
                    (*st).has_lock = (!no_lock) as u32;
                    if !no_lock {
                        LockWord::init(std::ptr::addr_of_mut!((*st).lock), true)?;
                    }
                }
                Ok(())
            })?;
        let st = seg.state();
        let have_tc = u8::try_from(st.typecode)
            .ok()
            .and_then(|c| TypeCode::from_char(c).ok())
            .filter(|t| t.size() as u32 == st.itemsize)
            .ok_or_else(|| Error::new(ErrorKind::Corrupt, format!("{name:?}: bad array header")))?;
        let fits = st.length.checked_mul(st.itemsize as u64).is_some_and(|b| b <= seg.tail_len() as u64);
        if st.length == 0 || !fits || st.has_lock > 1 {
            return Err(Error::new(ErrorKind::Corrupt, format!("{name:?}: array header does not fit its segment")));
        }
        if have_tc != tc {
            return Err(Error::new(
                ErrorKind::Type,
                format!("{name:?} holds typecode {:?}, opened as {:?}", have_tc.as_char() as char, typecode as char),
            ));
        }
        if length != 0 && st.length != length as u64 {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("{name:?} has {} elements, opened with {length}", st.length),
            ));
        }
        Ok(Array {
            length: st.length as usize,
            typecode: tc,
            has_lock: st.has_lock == 1,
            seg,
            holds: AtomicUsize::new(0),
        })
    }

    /// Removes the name; open handles keep the memory.
    pub fn unlink(name: &str) -> Result<()> {
        segment::unlink(SegmentKind::Array, name)
    }

    /// The elements (64-byte aligned), `len() * typecode().size()` bytes.
    pub fn as_ptr(&self) -> *mut u8 {
        self.seg.tail()
    }

    /// The element count.
    pub fn len(&self) -> usize {
        self.length
    }

    /// Never true: arrays have at least one element.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The typecode.
    pub fn typecode(&self) -> TypeCode {
        self.typecode
    }

    /// Whether the array has a lock.
    pub fn has_lock(&self) -> bool {
        self.has_lock
    }

    fn lock_word(&self) -> Result<&LockWord> {
        if self.has_lock() {
            Ok(&self.seg.state().lock)
        } else {
            Err(Error::new(ErrorKind::Unsupported, "this array was created without a lock"))
        }
    }

    /// Acquires the array's lock (recursive, robust): `Ok(None)` on timeout,
    /// `OwnerDied` when taken from a dead holder.
    pub fn lock(&self, deadline: &Deadline) -> Result<Option<LockState>> {
        let r = self.lock_word()?.acquire(deadline)?;
        if r.is_some() {
            // Relaxed: a process-local count, read only at drop.
            self.holds.fetch_add(1, Ordering::Relaxed);
        }
        Ok(r)
    }

    /// Releases the array's lock.
    pub fn unlock(&self) -> Result<()> {
        self.lock_word()?.release()?;
        // Relaxed: as in lock; saturating (another handle may have locked).
        let _ = self.holds.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| h.checked_sub(1));
        Ok(())
    }

    /// Whether the calling thread holds the array's lock
    /// ([`LockWord::held_by_me`]); [`ErrorKind::Unsupported`] without a lock.
    pub fn lock_held_by_me(&self) -> Result<bool> {
        Ok(self.lock_word()?.held_by_me())
    }

    /// Whether any thread holds the array's lock ([`LockWord::is_locked`]);
    /// [`ErrorKind::Unsupported`] without a lock.
    pub fn is_locked(&self) -> Result<bool> {
        Ok(self.lock_word()?.is_locked())
    }

    /// The calling thread's recursion depth on the array's lock, 0 when it
    /// does not hold it ([`LockWord::depth`]); [`ErrorKind::Unsupported`]
    /// without a lock.
    pub fn lock_depth(&self) -> Result<u32> {
        Ok(self.lock_word()?.depth())
    }

    /// How many holders died holding the lock.
    pub fn owner_deaths(&self) -> u64 {
        self.lock_word().map_or(0, |w| w.owner_deaths())
    }

    /// Runs `f` under the lock (when there is one), reporting whether the
    /// lock was taken from a holder that died (`f`'s effect stands either
    /// way; the caller learns the data may need repair).
    fn locked<R>(&self, f: impl FnOnce() -> Result<R>) -> Result<Guarded<R>> {
        if !self.has_lock() {
            return f().map(|value| Guarded { value, owner_died: false });
        }
        let w = &self.seg.state().lock;
        let st = w.acquire(&Deadline::Never)?.expect("an endless wait does not time out");
        let r = f();
        w.release()?;
        r.map(|value| Guarded { value, owner_died: st == LockState::OwnerDied })
    }

    fn check_range(&self, start: usize, count: usize) -> Result<()> {
        if start.checked_add(count).is_none_or(|end| end > self.length) {
            return Err(Error::new(
                ErrorKind::Index,
                format!("elements {start}..{} out of range for length {}", start.saturating_add(count), self.length),
            ));
        }
        Ok(())
    }

    /// Reads element `i` (under the lock).
    pub fn get(&self, i: usize) -> Result<Guarded<Number>> {
        self.check_range(i, 1)?;
        self.locked(|| Ok(self.read_elem(i)))
    }

    /// Writes element `i` (under the lock). Integers out of the typecode's
    /// range and floats into integer arrays are refused (Python's
    /// OverflowError and TypeError) with nothing written.
    pub fn set(&self, i: usize, v: Number) -> Result<Guarded<()>> {
        self.check_range(i, 1)?;
        self.check_value(v)?;
        self.locked(|| {
            self.write_elem(i, v);
            Ok(())
        })
    }

    /// Adds `delta` to integer element `i` under the lock and returns the
    /// new value (an atomic `a[i] += delta`). The new value must fit the
    /// typecode and an i64 (the C ABI returns it as one): else
    /// [`ErrorKind::Invalid`] and nothing is written.
    pub fn incr(&self, i: usize, delta: i64) -> Result<Guarded<i128>> {
        self.check_range(i, 1)?;
        if self.typecode.is_float() {
            return Err(Error::new(ErrorKind::Type, "incr on a float array"));
        }
        self.locked(|| {
            let Number::Int(cur) = self.read_elem(i) else { unreachable!("integer typecode") };
            let next = cur + delta as i128;
            self.check_value(Number::Int(next))?;
            if i64::try_from(next).is_err() {
                return Err(Error::new(ErrorKind::Invalid, format!("incr result {next} does not fit an int64")));
            }
            self.write_elem(i, Number::Int(next));
            Ok(next)
        })
    }

    /// Copies elements `start..start + out.len() / itemsize` into `out`
    /// (native byte order) under the lock. `out.len()` must be a multiple
    /// of the item size.
    pub fn read(&self, start: usize, out: &mut [u8]) -> Result<Guarded<()>> {
        let count = self.count_of(out.len())?;
        self.check_range(start, count)?;
        self.locked(|| {
            // SAFETY: the range is in bounds (checked); `out` is a distinct
            // local buffer.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.as_ptr().add(start * self.typecode.size()),
                    out.as_mut_ptr(),
                    out.len(),
                )
            };
            Ok(())
        })
    }

    /// Copies `data` (native byte order, whole elements) to the elements
    /// from `start` under the lock.
    pub fn write(&self, start: usize, data: &[u8]) -> Result<Guarded<()>> {
        let count = self.count_of(data.len())?;
        self.check_range(start, count)?;
        self.locked(|| {
            // SAFETY: as in read; `data` does not alias the segment unless
            // the caller passed a pointer into it, in which case copy
            // (memmove) is still correct.
            unsafe { std::ptr::copy(data.as_ptr(), self.as_ptr().add(start * self.typecode.size()), data.len()) };
            Ok(())
        })
    }

    fn count_of(&self, bytes: usize) -> Result<usize> {
        let size = self.typecode.size();
        if bytes % size != 0 {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("{bytes} bytes is not a whole number of {size}-byte elements"),
            ));
        }
        Ok(bytes / size)
    }

    fn check_value(&self, v: Number) -> Result<()> {
        match v {
            Number::Float(_) if !self.typecode.is_float() => Err(Error::new(
                ErrorKind::Type,
                format!("a float cannot be stored in a {:?} array", self.typecode.as_char() as char),
            )),
            Number::Int(x) if !self.typecode.is_float() => {
                let (lo, hi) = self.typecode.int_range();
                if x < lo || x > hi {
                    return Err(Error::new(
                        ErrorKind::Invalid,
                        format!("{x} out of range for typecode {:?}", self.typecode.as_char() as char),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn read_elem(&self, i: usize) -> Number {
        // SAFETY: i < length (checked by callers); the data is aligned to
        // 64 and elements to their size, so the typed reads are aligned.
        // Volatile: other processes write this memory.
        unsafe {
            let p = self.as_ptr().add(i * self.typecode.size());
            match self.typecode {
                TypeCode::Char | TypeCode::U8 => Number::Int(p.read_volatile() as i128),
                TypeCode::I8 => Number::Int(p.cast::<i8>().read_volatile() as i128),
                TypeCode::I16 => Number::Int(p.cast::<i16>().read_volatile() as i128),
                TypeCode::U16 => Number::Int(p.cast::<u16>().read_volatile() as i128),
                TypeCode::I32 => Number::Int(p.cast::<i32>().read_volatile() as i128),
                TypeCode::U32 => Number::Int(p.cast::<u32>().read_volatile() as i128),
                TypeCode::Long | TypeCode::I64 => Number::Int(p.cast::<i64>().read_volatile() as i128),
                TypeCode::ULong | TypeCode::U64 => Number::Int(p.cast::<u64>().read_volatile() as i128),
                TypeCode::F32 => Number::Float(p.cast::<f32>().read_volatile() as f64),
                TypeCode::F64 => Number::Float(p.cast::<f64>().read_volatile()),
            }
        }
    }

    /// Writes a value already checked by `check_value`.
    fn write_elem(&self, i: usize, v: Number) {
        let (x, f) = match v {
            Number::Int(x) => (x, x as f64),
            Number::Float(f) => (0, f),
        };
        // SAFETY: as in read_elem; the casts cannot truncate (range-checked).
        unsafe {
            let p = self.as_ptr().add(i * self.typecode.size());
            match self.typecode {
                TypeCode::Char | TypeCode::U8 => p.write_volatile(x as u8),
                TypeCode::I8 => p.cast::<i8>().write_volatile(x as i8),
                TypeCode::I16 => p.cast::<i16>().write_volatile(x as i16),
                TypeCode::U16 => p.cast::<u16>().write_volatile(x as u16),
                TypeCode::I32 => p.cast::<i32>().write_volatile(x as i32),
                TypeCode::U32 => p.cast::<u32>().write_volatile(x as u32),
                TypeCode::Long | TypeCode::I64 => p.cast::<i64>().write_volatile(x as i64),
                TypeCode::ULong | TypeCode::U64 => p.cast::<u64>().write_volatile(x as u64),
                TypeCode::F32 => p.cast::<f32>().write_volatile(f as f32),
                TypeCode::F64 => p.cast::<f64>().write_volatile(f),
            }
        }
    }
}
