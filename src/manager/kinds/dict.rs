//! `dict`: an ordered map with arbitrary hashable CBOR keys, kept encoded
//! and served from the request's items without decoding them (the hot
//! path), with the read replica local clients map
//! (src/manager/replica.rs).

use crate::error::{Error, ErrorKind, Result};
use crate::manager::cbor::{decode, encode, encode_into, head, scan};
use crate::manager::objects::{decode_item, key_error, no_method, Args, CallCtx, KindSpec, ManagerObject};
use crate::manager::protocol::RawItem;
use crate::manager::replica::Writer;
use crate::manager::values::*;
use ciborium::Value;
use indexmap::IndexMap;
use parking_lot::Mutex;
use std::borrow::Cow;

/// The `dict` row of the kinds table.
pub(super) const SPEC: KindSpec = KindSpec {
    name: "dict",
    // `get` and `set` first: the dispatcher looks a method up in this
    // list on every call.
    methods: &[
        "get",
        "set",
        "del",
        "len",
        "contains",
        "keys",
        "values",
        "items",
        "copy",
        "clear",
        "pop",
        "popitem",
        "setdefault",
        "get_or_set",
        "update",
        "incr",
        "compare_and_set",
        "replica",
    ],
    new: |_| Ok(Box::new(Dict(Mutex::default()))),
};

/// A dict object.
#[derive(Debug)]
struct Dict(Mutex<DictState>);

impl ManagerObject for Dict {
    fn call_into(&self, method: &str, args: Args<'_>, ctx: &CallCtx, out: &mut Vec<u8>) -> Result<()> {
        let mut d = self.0.lock();
        if method == "replica" {
            return d.replica_for(ctx, out);
        }
        match args {
            Args::Raw(items) => dict_call(&mut d, method, items, out),
            Args::Values(values) => {
                let encoded: Vec<Vec<u8>> = values.iter().map(encode).collect();
                let items = encoded
                    .iter()
                    .map(|b| Ok(RawItem { bytes: b, form: scan(b, usize::MAX)? }))
                    .collect::<Result<Vec<_>>>()?;
                dict_call(&mut d, method, &items, out)
            }
        }
    }

    fn call(&self, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        let mut out = Vec::new();
        self.call_into(method, Args::Values(args), ctx, &mut out)?;
        decode(&out, usize::MAX)
    }

    fn retire_replica(&self) {
        self.0.lock().replica = Replica::Disabled;
    }

    #[cfg(test)]
    fn with_replica(&self, f: &mut dyn FnMut(&Writer)) -> bool {
        match &self.0.lock().replica {
            Replica::On(w) => {
                f(w);
                true
            }
            _ => false,
        }
    }
}

/// Bytes held inline when short (most keys and many values are: an
/// integer, a short text), else boxed: a short key is compared without
/// visiting another allocation, and storing it allocates nothing.
/// Hashes and compares as the `[u8]` it holds (so maps keyed by it are
/// looked up by `&[u8]`).
#[derive(Clone)]
enum Bytes {
    Inline { len: u8, data: [u8; INLINE] },
    Boxed(Box<[u8]>),
}

/// The longest [`Bytes`] held inline: the size of a boxed slice and a tag
/// leave room for 22.
const INLINE: usize = 22;

impl Bytes {
    fn new(b: &[u8]) -> Bytes {
        if b.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..b.len()].copy_from_slice(b);
            Bytes::Inline { len: b.len() as u8, data }
        } else {
            Bytes::Boxed(b.into())
        }
    }

    fn from_vec(v: Vec<u8>) -> Bytes {
        if v.len() <= INLINE {
            Bytes::new(&v)
        } else {
            Bytes::Boxed(v.into_boxed_slice())
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Inline { len, data } => &data[..*len as usize],
            Bytes::Boxed(b) => b,
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::borrow::Borrow<[u8]> for Bytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Bytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Bytes {}

impl std::hash::Hash for Bytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `[u8]` hashes: `Borrow<[u8]>` requires the same hash.
        self.as_slice().hash(state)
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02x?}", self.as_slice())
    }
}

/// A dict's state: its entries (the source of truth) and the read replica
/// the server keeps in step with them once a local client asked for one
/// (src/manager/replica.rs). Every change to `map` is followed by the
/// matching `replicate_*` call, under the same mutex, before the reply.
#[derive(Debug, Default)]
struct DictState {
    map: IndexMap<Bytes, Entry>,
    replica: Replica,
    /// The generation of the last replica made (each new segment, after
    /// a growth, gets the next).
    generation: u64,
}

/// Whether a dict is replicated.
#[derive(Debug, Default)]
enum Replica {
    /// Nobody asked yet: nothing kept.
    #[default]
    Off,
    /// Kept current (its segment).
    On(Writer),
    /// Given up: the dict outgrew [`crate::manager::replica::MAX_SEGMENT`], or the
    /// server is stopping. Clients use the RPC. Dropping the writer marked
    /// its segment retired.
    Disabled,
}

impl DictState {
    /// After `map[kb]` was set: the same in the replica (rebuilt, larger
    /// if need be, when it does not fit).
    fn replicate_put(&mut self, kb: &[u8]) {
        if let Replica::On(w) = &mut self.replica {
            let value = &self.map.get(kb).expect("just set").value;
            if !w.put(kb, value) {
                self.rebuild();
            }
        }
    }

    /// After `kb` was removed from `map`.
    fn replicate_remove(&mut self, kb: &[u8]) {
        if let Replica::On(w) = &mut self.replica {
            w.remove(kb);
        }
    }

    /// After `map` was emptied.
    fn replicate_clear(&mut self) {
        if let Replica::On(w) = &mut self.replica {
            w.fill(std::iter::empty());
        }
    }

    /// Makes the replica hold `map` again: compacted in place when the
    /// segment has the room (readers see the old contents or the new),
    /// else in a new, larger segment (the old one is retired, readers map
    /// the new one), else given up (over the size limit).
    fn rebuild(&mut self) {
        let DictState { map, replica, generation } = self;
        let entries = map.iter().map(|(k, e)| (&k[..], &e.value[..]));
        if let Replica::On(w) = replica {
            if w.fill(entries.clone()) {
                return;
            }
        }
        let bytes: usize = map.iter().map(|(k, e)| Writer::record_len(k, &e.value)).sum();
        *generation += 1;
        *replica = match Writer::sized_for(map.len(), bytes, *generation) {
            Some(Ok(mut w)) => {
                if w.fill(entries) {
                    Replica::On(w)
                } else {
                    Replica::Disabled
                }
            }
            Some(Err(e)) => {
                eprintln!("mpipc manager: cannot make a dict replica: {e}");
                Replica::Disabled
            }
            None => Replica::Disabled,
        };
    }

    /// The `replica` method: a read-only replica's descriptor for a local
    /// caller (made on the first request), sent with the reply; the reply
    /// is `[generation, size]`.
    fn replica_for(&mut self, ctx: &CallCtx, out: &mut Vec<u8>) -> Result<()> {
        if !ctx.local {
            return Err(Error::new(ErrorKind::Unsupported, "replica: only for clients on a Unix socket of this host"));
        }
        if matches!(self.replica, Replica::Off) {
            self.rebuild();
        }
        let Replica::On(w) = &self.replica else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "replica: this dict is not replicated (over the size limit)",
            ));
        };
        let fd = w.fd().try_clone().map_err(|e| Error::from_io("dup (dict replica)", e))?;
        head(out, 4, 2);
        head(out, 0, w.generation());
        head(out, 0, w.size() as u64);
        ctx.pass_fd.set(Some(fd));
        Ok(())
    }
}

/// A dict entry, kept encoded: the bytes a reply carries, so that a `get`
/// copies them out and a `set` stores the caller's bytes (when they are
/// canonical, see [`crate::manager::cbor::Form`]) without decoding either.
#[derive(Debug)]
struct Entry {
    /// The key as last written (its canonical encoding); `None` when that
    /// is the map key itself, as it is for every plain key (integers,
    /// text, bytes, arrays of them, non-integral floats).
    key: Option<Bytes>,
    /// The value's canonical encoding.
    value: Bytes,
}

impl Entry {
    /// The key's encoding, `map_key` being the entry's map key.
    fn key<'a>(&'a self, map_key: &'a [u8]) -> &'a [u8] {
        self.key.as_deref().unwrap_or(map_key)
    }
}

/// The canonical key bytes of `a` (`values::key_bytes` of its value): the
/// item's own bytes when they are a plain key, the common case, so a
/// lookup allocates nothing.
fn key_of<'a>(a: &RawItem<'a>) -> Result<Cow<'a, [u8]>> {
    if a.form.plain_key() {
        return Ok(Cow::Borrowed(a.bytes));
    }
    Ok(Cow::Owned(key_bytes(&decode_item(a)?)?))
}

/// The canonical encoding of `a`'s value: its own bytes when canonical.
fn stored(a: &RawItem) -> Result<Bytes> {
    Ok(if a.form.canonical() { Bytes::new(a.bytes) } else { Bytes::from_vec(encode(&decode_item(a)?)) })
}

/// What an entry keeps of key `a` whose key bytes are `kb` (see
/// [`Entry::key`]).
fn stored_key(a: &RawItem, kb: &[u8]) -> Result<Option<Bytes>> {
    if a.form.plain_key() {
        return Ok(None);
    }
    let enc = stored(a)?;
    Ok((*enc != *kb).then_some(enc))
}

/// Appends the canonical encoding of `a`'s value.
fn write_value(a: &RawItem, out: &mut Vec<u8>) -> Result<()> {
    if a.form.canonical() {
        out.extend_from_slice(a.bytes);
    } else {
        encode_into(&decode_item(a)?, out);
    }
    Ok(())
}

/// Sets the entry `kb` (key item `key`) to `value` (encoded), keeping its
/// place if it exists, as `IndexMap::insert` does.
fn put_entry(d: &mut DictState, kb: Cow<'_, [u8]>, key: &RawItem, value: Bytes) -> Result<()> {
    let key = stored_key(key, &kb)?;
    match d.map.get_mut(&*kb) {
        Some(e) => *e = Entry { key, value },
        None => {
            d.map.insert(Bytes::new(&kb), Entry { key, value });
        }
    }
    d.replicate_put(&kb);
    Ok(())
}

const NULL: u8 = 0xf6;

fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.push(if b { 0xf5 } else { 0xf4 });
}

fn dict_call(d: &mut DictState, method: &str, args: &[RawItem], out: &mut Vec<u8>) -> Result<()> {
    let key_error_of = |a: &RawItem| -> Error {
        match decode_item(a) {
            Ok(k) => key_error(&k),
            Err(e) => e,
        }
    };
    match method {
        "get" => {
            arity_of(args.len(), 1, 2, method)?;
            let kb = key_of(&args[0])?;
            match d.map.get(&*kb) {
                Some(e) => out.extend_from_slice(&e.value),
                None if args.len() > 1 => write_value(&args[1], out)?,
                None => return Err(key_error_of(&args[0])),
            }
        }
        "set" => {
            arity_of(args.len(), 2, 2, method)?;
            let kb = key_of(&args[0])?;
            put_entry(d, kb, &args[0], stored(&args[1])?)?;
            out.push(NULL);
        }
        "del" => {
            arity_of(args.len(), 1, 1, method)?;
            let kb = key_of(&args[0])?;
            d.map.shift_remove(&*kb).ok_or_else(|| key_error_of(&args[0]))?;
            d.replicate_remove(&kb);
            out.push(NULL);
        }
        "len" => head(out, 0, d.map.len() as u64),
        "contains" => {
            arity_of(args.len(), 1, 1, method)?;
            let kb = key_of(&args[0])?;
            write_bool(out, d.map.contains_key(&*kb));
        }
        "keys" | "values" | "items" | "copy" => {
            head(out, if method == "copy" { 5 } else { 4 }, d.map.len() as u64);
            for (k, e) in d.map.iter() {
                if method == "items" {
                    out.push(0x82);
                }
                if method != "values" {
                    out.extend_from_slice(e.key(k));
                }
                if method != "keys" {
                    out.extend_from_slice(&e.value);
                }
            }
        }
        "clear" => {
            d.map.clear();
            d.replicate_clear();
            out.push(NULL);
        }
        "pop" => {
            arity_of(args.len(), 1, 2, method)?;
            let kb = key_of(&args[0])?;
            match d.map.shift_remove(&*kb) {
                Some(e) => {
                    out.extend_from_slice(&e.value);
                    d.replicate_remove(&kb);
                }
                None if args.len() > 1 => write_value(&args[1], out)?,
                None => return Err(key_error_of(&args[0])),
            }
        }
        "popitem" => {
            let (k, e) =
                d.map.pop().ok_or_else(|| Error::new(ErrorKind::NotFound, "popitem(): dictionary is empty"))?;
            out.push(0x82);
            out.extend_from_slice(e.key(&k));
            out.extend_from_slice(&e.value);
            d.replicate_remove(&k);
        }
        "setdefault" | "get_or_set" => {
            arity_of(args.len(), 1, 2, method)?;
            let kb = key_of(&args[0])?;
            if let Some(e) = d.map.get(&*kb) {
                out.extend_from_slice(&e.value);
            } else {
                let value = match args.get(1) {
                    Some(v) => stored(v)?,
                    None => Bytes::new(&[NULL]),
                };
                out.extend_from_slice(&value);
                put_entry(d, kb, &args[0], value)?;
            }
        }
        "update" => {
            arity_of(args.len(), 1, 1, method)?;
            // Validate every key first, then apply: all or nothing.
            let pairs: Vec<(Value, Value)> = match decode_item(&args[0])? {
                Value::Map(m) => m,
                Value::Array(a) => a
                    .into_iter()
                    .map(|p| match p {
                        Value::Array(kv) if kv.len() == 2 => {
                            let [k, v]: [Value; 2] = kv.try_into().expect("2 elements");
                            Ok((k, v))
                        }
                        _ => Err(Error::new(ErrorKind::Type, "update: pairs must be 2-element arrays")),
                    })
                    .collect::<Result<_>>()?,
                _ => return Err(Error::new(ErrorKind::Type, "update: argument must be a map or an array of pairs")),
            };
            let keyed: Vec<(Bytes, Entry)> = pairs
                .into_iter()
                .map(|(k, v)| {
                    let kb = key_bytes(&k)?;
                    let enc = encode(&k);
                    let key = (enc != kb).then(|| Bytes::from_vec(enc));
                    Ok((Bytes::from_vec(kb), Entry { key, value: Bytes::from_vec(encode(&v)) }))
                })
                .collect::<Result<_>>()?;
            let touched: Vec<Bytes> = keyed.iter().map(|(k, _)| k.clone()).collect();
            d.map.extend(keyed);
            for k in &touched {
                d.replicate_put(k);
            }
            out.push(NULL);
        }
        "incr" => {
            arity_of(args.len(), 1, 2, method)?;
            let kb = key_of(&args[0])?;
            let delta = opt_int_value(args.get(1).map(decode_item).transpose()?.as_ref(), 1, 1, method)?;
            let current = d.map.get(&*kb).map(|e| decode(&e.value, usize::MAX)).transpose()?;
            let new = Bytes::from_vec(encode(&add_int(current.as_ref(), delta, "incr")?));
            out.extend_from_slice(&new);
            put_entry(d, kb, &args[0], new)?;
        }
        "compare_and_set" => {
            arity_of(args.len(), 3, 3, method)?;
            let kb = key_of(&args[0])?;
            let swapped = match d.map.get(&*kb) {
                Some(e) => value_bytes(&decode(&e.value, usize::MAX)?) == value_bytes(&decode_item(&args[1])?),
                None => false,
            };
            if swapped {
                put_entry(d, kb, &args[0], stored(&args[2])?)?;
            }
            write_bool(out, swapped);
        }
        _ => return Err(no_method("dict", method)),
    }
    Ok(())
}
