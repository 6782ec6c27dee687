//! A restricted reader for the pickles inside PyTorch's `torch.save` files.
//!
//! It runs the pickle opcodes that `torch.save` writes (protocols 2 to 5) as a small stack
//! machine, but it never calls anything: a `GLOBAL` becomes a name, and `REDUCE` or `BUILD`
//! become plain records. The caller then looks for the shapes PyTorch uses for a state dict
//! (`collections.OrderedDict` of `torch._utils._rebuild_tensor_v2(...)` calls) and ignores
//! everything else, so a hostile file can do no more than fail to parse.
//!
//! Every value is shared through [`Rc`], so a memo lookup costs O(1) whatever it holds, and a
//! budget caps the work a file can ask for: a crafted file that builds ever larger lists from
//! copies of themselves stops with an error instead of filling memory.

use std::rc::Rc;

/// The largest number of elements copy-on-write may clone over a whole pickle.
const CLONE_BUDGET: usize = 50_000_000;

/// The most items the machine's stack and memo may hold.
const MAX_STACK: usize = 1_000_000;

/// The deepest a value may be nested (lists in tuples in dicts …). State dicts nest a handful
/// of levels; without a limit a crafted file could nest deeper than the stack that frees it.
const MAX_DEPTH: u32 = 256;

/// A value built by the pickle machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Python's `None`.
    None,
    /// A boolean.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// An integer too large for 64 bits; only its byte length is kept.
    BigInt(usize),
    /// A float.
    Float(f64),
    /// A text string.
    Str(Rc<str>),
    /// A byte string.
    Bytes(Rc<[u8]>),
    /// A tuple.
    Tuple(Rc<Vec<Value>>),
    /// A list.
    List(Rc<Vec<Value>>),
    /// A dict, in insertion order.
    Dict(Rc<Vec<(Value, Value)>>),
    /// A reference to a module attribute, such as `torch._utils._rebuild_tensor_v2`.
    Global(Rc<str>, Rc<str>),
    /// `callable(*args)`, recorded, never called.
    Call(Rc<(Value, Value)>),
    /// An object with its state set by `BUILD`: `(object, state)`.
    Built(Rc<(Value, Value)>),
    /// A persistent id: PyTorch's reference to a storage record outside the pickle.
    Persistent(Rc<Value>),
}

impl Value {
    /// A short name of the value's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Bool(_) => "a boolean",
            Self::Int(_) | Self::BigInt(_) => "an integer",
            Self::Float(_) => "a float",
            Self::Str(_) => "a string",
            Self::Bytes(_) => "bytes",
            Self::Tuple(_) => "a tuple",
            Self::List(_) => "a list",
            Self::Dict(_) => "a dict",
            Self::Global(..) => "a class or function reference",
            Self::Call(_) => "an object",
            Self::Built(_) => "an object",
            Self::Persistent(_) => "a storage reference",
        }
    }

    /// The text of a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value of an `Int`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The items of a `Tuple` or `List`.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Self::Tuple(items) | Self::List(items) => Some(items),
            _ => None,
        }
    }

    /// `(module, name)` of a `Global`.
    pub fn as_global(&self) -> Option<(&str, &str)> {
        match self {
            Self::Global(module, name) => Some((module, name)),
            _ => None,
        }
    }
}

/// Why a pickle could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PickleError {
    /// The bytes ended inside an opcode.
    #[error("the pickle ends early, inside opcode {opcode:#04x} at byte {offset}")]
    Truncated {
        /// The opcode being read.
        opcode: u8,
        /// Where it started.
        offset: usize,
    },
    /// An opcode this reader does not run.
    #[error(
        "the pickle uses opcode {opcode:#04x} at byte {offset}, which PyTorch state dicts do not use"
    )]
    UnsupportedOpcode {
        /// The opcode.
        opcode: u8,
        /// Where it is.
        offset: usize,
    },
    /// The opcodes do not fit together (popping an empty stack, a missing mark, …).
    #[error("the pickle is malformed at byte {offset}: {problem}")]
    Malformed {
        /// Where.
        offset: usize,
        /// What is wrong.
        problem: String,
    },
    /// The pickle asks for more work than any state dict needs.
    #[error("the pickle is too large or too deeply nested to be a state dict")]
    TooLarge,
    /// The bytes ended before the `STOP` opcode.
    #[error("the pickle has no STOP opcode")]
    NoStop,
}

/// Runs the pickle in `bytes` and returns the value it builds.
pub fn read_pickle(bytes: &[u8]) -> Result<Value, PickleError> {
    Machine::new(bytes).run()
}

/// An item on the machine's stack: a value with how deeply it nests, or a `MARK`.
#[derive(Debug, Clone)]
enum Slot {
    Mark,
    Value(Value, u32),
}

struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Where the opcode being run started, for messages.
    start: usize,
    opcode: u8,
    stack: Vec<Slot>,
    memo: Vec<Option<(Value, u32)>>,
    budget: usize,
}

impl<'a> Machine<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            start: 0,
            opcode: 0,
            stack: Vec::new(),
            memo: Vec::new(),
            budget: CLONE_BUDGET,
        }
    }

    fn run(mut self) -> Result<Value, PickleError> {
        while self.pos < self.bytes.len() {
            self.start = self.pos;
            self.opcode = self.take(1)?[0];
            if self.opcode == b'.' {
                return self.pop();
            }
            self.step()?;
            if self.stack.len() > MAX_STACK {
                return Err(PickleError::TooLarge);
            }
        }
        Err(PickleError::NoStop)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(PickleError::Truncated {
                opcode: self.opcode,
                offset: self.start,
            });
        };
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, PickleError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, PickleError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, PickleError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    /// A length that must fit in what is left of the file.
    fn length(&mut self, raw: u64) -> Result<usize, PickleError> {
        usize::try_from(raw)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.pos)
            .ok_or(PickleError::Truncated {
                opcode: self.opcode,
                offset: self.start,
            })
    }

    /// Text up to the next newline (for the text opcodes `GLOBAL`, `PUT`, `GET`).
    fn line(&mut self) -> Result<&'a str, PickleError> {
        let rest = &self.bytes[self.pos..];
        let Some(len) = rest.iter().position(|&b| b == b'\n') else {
            return Err(PickleError::Truncated {
                opcode: self.opcode,
                offset: self.start,
            });
        };
        let text =
            std::str::from_utf8(&rest[..len]).map_err(|_| self.malformed("text is not UTF-8"))?;
        self.pos += len + 1;
        Ok(text)
    }

    fn text(&mut self, len: usize) -> Result<Value, PickleError> {
        let bytes = self.take(len)?;
        let text =
            std::str::from_utf8(bytes).map_err(|_| self.malformed("a string is not UTF-8"))?;
        Ok(Value::Str(Rc::from(text)))
    }

    fn malformed(&self, problem: &str) -> PickleError {
        PickleError::Malformed {
            offset: self.start,
            problem: problem.to_owned(),
        }
    }

    /// Pushes a value that holds no other value.
    fn push(&mut self, value: Value) {
        self.stack.push(Slot::Value(value, 0));
    }

    /// Pushes a value built around others whose deepest nesting is `inner`.
    fn push_around(&mut self, value: Value, inner: u32) -> Result<(), PickleError> {
        let depth = inner + 1;
        if depth > MAX_DEPTH {
            return Err(PickleError::TooLarge);
        }
        self.stack.push(Slot::Value(value, depth));
        Ok(())
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        self.pop_with_depth().map(|(value, _)| value)
    }

    fn pop_with_depth(&mut self) -> Result<(Value, u32), PickleError> {
        match self.stack.pop() {
            Some(Slot::Value(v, depth)) => Ok((v, depth)),
            Some(Slot::Mark) => Err(self.malformed("expected a value, found a mark")),
            None => Err(self.malformed("the stack is empty")),
        }
    }

    fn top(&mut self) -> Result<&mut Value, PickleError> {
        self.top_with_depth().map(|(value, _)| value)
    }

    fn top_with_depth(&mut self) -> Result<(&mut Value, &mut u32), PickleError> {
        let offset = self.start;
        match self.stack.last_mut() {
            Some(Slot::Value(v, depth)) => Ok((v, depth)),
            _ => Err(PickleError::Malformed {
                offset,
                problem: "expected a value on the stack".into(),
            }),
        }
    }

    /// Records that the value on top now holds values nested `inner` deep.
    fn deepen_top(&mut self, inner: u32) -> Result<(), PickleError> {
        let (_, depth) = self.top_with_depth()?;
        *depth = (*depth).max(inner + 1);
        if *depth > MAX_DEPTH {
            return Err(PickleError::TooLarge);
        }
        Ok(())
    }

    /// Everything above the topmost mark, which is removed, and its deepest nesting.
    fn pop_to_mark(&mut self) -> Result<(Vec<Value>, u32), PickleError> {
        let Some(mark) = self.stack.iter().rposition(|s| matches!(s, Slot::Mark)) else {
            return Err(self.malformed("no mark on the stack"));
        };
        let mut inner = 0;
        let items = self
            .stack
            .drain(mark + 1..)
            .filter_map(|s| match s {
                Slot::Value(v, depth) => {
                    inner = inner.max(depth);
                    Some(v)
                }
                Slot::Mark => None,
            })
            .collect();
        self.stack.truncate(mark);
        Ok((items, inner))
    }

    /// Charges `n` cloned elements against the budget.
    fn charge(&mut self, n: usize) -> Result<(), PickleError> {
        self.budget = self.budget.checked_sub(n).ok_or(PickleError::TooLarge)?;
        Ok(())
    }

    fn memo_put(&mut self, idx: usize) -> Result<(), PickleError> {
        if idx > MAX_STACK {
            return Err(PickleError::TooLarge);
        }
        let value = match self.stack.last() {
            Some(Slot::Value(v, depth)) => (v.clone(), *depth),
            _ => return Err(self.malformed("nothing to memoize")),
        };
        if self.memo.len() <= idx {
            self.memo.resize(idx + 1, None);
        }
        self.memo[idx] = Some(value);
        Ok(())
    }

    fn memo_get(&mut self, idx: usize) -> Result<(), PickleError> {
        let value = self.memo.get(idx).cloned().flatten();
        match value {
            Some((v, depth)) => {
                self.stack.push(Slot::Value(v, depth));
                Ok(())
            }
            None => Err(self.malformed(&format!("memo entry {idx} is empty"))),
        }
    }

    /// Appends `items` to the list on top of the stack.
    fn extend_list(&mut self, items: Vec<Value>) -> Result<(), PickleError> {
        let shared = match self.top()? {
            Value::List(list) => Rc::strong_count(list) > 1,
            _ => return Err(self.malformed("APPEND needs a list")),
        };
        if shared {
            let len = match self.top()? {
                Value::List(list) => list.len(),
                _ => 0,
            };
            self.charge(len)?;
        }
        if let Value::List(list) = self.top()? {
            Rc::make_mut(list).extend(items);
        }
        Ok(())
    }

    /// Sets `pairs` in the dict on top of the stack; other objects (an `OrderedDict` built by
    /// `REDUCE`) collect them in a dict of their own.
    fn set_items(&mut self, items: Vec<Value>) -> Result<(), PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.malformed("SETITEMS needs key-value pairs"));
        }
        let mut pairs = Vec::with_capacity(items.len() / 2);
        let mut iter = items.into_iter();
        while let (Some(k), Some(v)) = (iter.next(), iter.next()) {
            pairs.push((k, v));
        }

        let top = self.top()?;
        if !matches!(top, Value::Dict(_)) {
            // `OrderedDict()` is a call record; give it its items as a dict of its own.
            let callee = std::mem::replace(top, Value::None);
            *top = Value::Built(Rc::new((callee, Value::Dict(Rc::new(Vec::new())))));
        }
        let shared_len = match self.top()? {
            Value::Dict(d) if Rc::strong_count(d) > 1 => d.len(),
            Value::Built(b) => match &b.1 {
                Value::Dict(d) if Rc::strong_count(d) > 1 || Rc::strong_count(b) > 1 => d.len(),
                _ => 0,
            },
            _ => 0,
        };
        self.charge(shared_len)?;
        match self.top()? {
            Value::Dict(d) => Rc::make_mut(d).extend(pairs),
            Value::Built(b) => {
                if let Value::Dict(d) = &mut Rc::make_mut(b).1 {
                    Rc::make_mut(d).extend(pairs);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), PickleError> {
        match self.opcode {
            // Framing and protocol markers carry no values.
            0x80 => {
                self.u8()?;
            }
            0x95 => {
                self.u64()?;
            }
            b'(' => self.stack.push(Slot::Mark),
            b'N' => self.push(Value::None),
            0x88 => self.push(Value::Bool(true)),
            0x89 => self.push(Value::Bool(false)),
            b'}' => self.push(Value::Dict(Rc::new(Vec::new()))),
            b']' => self.push(Value::List(Rc::new(Vec::new()))),
            b')' => self.push(Value::Tuple(Rc::new(Vec::new()))),

            // Numbers.
            b'J' => {
                let v = self.u32()? as i32;
                self.push(Value::Int(i64::from(v)));
            }
            b'K' => {
                let v = self.u8()?;
                self.push(Value::Int(i64::from(v)));
            }
            b'M' => {
                let v = self.u16()?;
                self.push(Value::Int(i64::from(v)));
            }
            0x8a => {
                let n = usize::from(self.u8()?);
                let value = self.long(n)?;
                self.push(value);
            }
            0x8b => {
                let raw = u64::from(self.u32()?);
                let n = self.length(raw)?;
                let value = self.long(n)?;
                self.push(value);
            }
            b'G' => {
                let b = self.take(8)?;
                let v = f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                self.push(Value::Float(v));
            }

            // Strings and bytes.
            b'X' => {
                let raw = u64::from(self.u32()?);
                let n = self.length(raw)?;
                let v = self.text(n)?;
                self.push(v);
            }
            0x8c => {
                let n = usize::from(self.u8()?);
                let v = self.text(n)?;
                self.push(v);
            }
            0x8d => {
                let raw = self.u64()?;
                let n = self.length(raw)?;
                let v = self.text(n)?;
                self.push(v);
            }
            b'T' | b'B' => {
                let raw = u64::from(self.u32()?);
                let n = self.length(raw)?;
                let v = Value::Bytes(Rc::from(self.take(n)?));
                self.push(v);
            }
            b'U' | b'C' => {
                let n = usize::from(self.u8()?);
                let v = Value::Bytes(Rc::from(self.take(n)?));
                self.push(v);
            }
            0x8e => {
                let raw = self.u64()?;
                let n = self.length(raw)?;
                let v = Value::Bytes(Rc::from(self.take(n)?));
                self.push(v);
            }

            // Containers.
            b't' => {
                let (items, inner) = self.pop_to_mark()?;
                self.push_around(Value::Tuple(Rc::new(items)), inner)?;
            }
            0x85..=0x87 => {
                let n = usize::from(self.opcode - 0x84);
                let mut items = Vec::with_capacity(n);
                let mut inner = 0;
                for _ in 0..n {
                    let (item, depth) = self.pop_with_depth()?;
                    inner = inner.max(depth);
                    items.push(item);
                }
                items.reverse();
                self.push_around(Value::Tuple(Rc::new(items)), inner)?;
            }
            b'l' => {
                let (items, inner) = self.pop_to_mark()?;
                self.push_around(Value::List(Rc::new(items)), inner)?;
            }
            b'd' => {
                let (items, inner) = self.pop_to_mark()?;
                self.push_around(Value::Dict(Rc::new(Vec::new())), inner)?;
                self.set_items(items)?;
            }
            b'a' => {
                let (item, depth) = self.pop_with_depth()?;
                self.deepen_top(depth)?;
                self.extend_list(vec![item])?;
            }
            b'e' => {
                let (items, inner) = self.pop_to_mark()?;
                self.deepen_top(inner)?;
                self.extend_list(items)?;
            }
            b's' => {
                let (value, a) = self.pop_with_depth()?;
                let (key, b) = self.pop_with_depth()?;
                self.deepen_top(a.max(b))?;
                self.set_items(vec![key, value])?;
            }
            b'u' => {
                let (items, inner) = self.pop_to_mark()?;
                self.deepen_top(inner)?;
                self.set_items(items)?;
            }

            // The memo.
            b'q' => {
                let idx = usize::from(self.u8()?);
                self.memo_put(idx)?;
            }
            b'r' => {
                let idx = self.u32()? as usize;
                self.memo_put(idx)?;
            }
            0x94 => {
                let idx = self.memo.len();
                self.memo_put(idx)?;
            }
            b'p' => {
                let idx = self
                    .line()?
                    .trim()
                    .parse()
                    .map_err(|_| self.malformed("bad PUT index"))?;
                self.memo_put(idx)?;
            }
            b'h' => {
                let idx = usize::from(self.u8()?);
                self.memo_get(idx)?;
            }
            b'j' => {
                let idx = self.u32()? as usize;
                self.memo_get(idx)?;
            }
            b'g' => {
                let idx = self
                    .line()?
                    .trim()
                    .parse()
                    .map_err(|_| self.malformed("bad GET index"))?;
                self.memo_get(idx)?;
            }

            // Names and objects, recorded and never run.
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                self.push(Value::Global(Rc::from(module), Rc::from(name)));
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                match (module.as_str(), name.as_str()) {
                    (Some(m), Some(n)) => {
                        let global = Value::Global(Rc::from(m), Rc::from(n));
                        self.push(global);
                    }
                    _ => return Err(self.malformed("STACK_GLOBAL needs two strings")),
                }
            }
            b'R' | 0x81 => {
                let (args, a) = self.pop_with_depth()?;
                let (callee, b) = self.pop_with_depth()?;
                self.push_around(Value::Call(Rc::new((callee, args))), a.max(b))?;
            }
            b'b' => {
                let (state, a) = self.pop_with_depth()?;
                let (object, b) = self.pop_with_depth()?;
                // A dict's state (an OrderedDict's `_metadata`) adds nothing a reader needs.
                match object {
                    Value::Built(_) | Value::Dict(_) => self.stack.push(Slot::Value(object, b)),
                    other => self.push_around(Value::Built(Rc::new((other, state))), a.max(b))?,
                }
            }
            b'Q' => {
                let (id, depth) = self.pop_with_depth()?;
                self.push_around(Value::Persistent(Rc::new(id)), depth)?;
            }
            b'0' => {
                self.pop()?;
            }
            b'2' => {
                let (top, depth) = self.top_with_depth()?;
                let slot = Slot::Value(top.clone(), *depth);
                self.stack.push(slot);
            }
            b'1' => {
                self.pop_to_mark()?;
            }
            _ => {
                return Err(PickleError::UnsupportedOpcode {
                    opcode: self.opcode,
                    offset: self.start,
                });
            }
        }
        Ok(())
    }

    /// A little-endian two's-complement integer of `n` bytes.
    fn long(&mut self, n: usize) -> Result<Value, PickleError> {
        let bytes = self.take(n)?;
        if n == 0 {
            return Ok(Value::Int(0));
        }
        if n > 8 {
            return Ok(Value::BigInt(n));
        }
        let negative = bytes[n - 1] & 0x80 != 0;
        let mut buf = if negative { [0xffu8; 8] } else { [0u8; 8] };
        buf[..n].copy_from_slice(bytes);
        Ok(Value::Int(i64::from_le_bytes(buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protocol_two_dict_of_ints_is_read() {
        // pickle.dumps({"a": 1, "b": 300}, protocol=2)
        let bytes = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02M,\x01u.";
        let value = read_pickle(bytes).unwrap_or_else(|e| panic!("{e}"));
        let Value::Dict(items) = value else {
            panic!("not a dict: {value:?}");
        };
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].0.as_str(), Some("a"));
        assert_eq!(items[1].1.as_int(), Some(300));
    }

    #[test]
    fn negative_and_large_integers_are_read_without_overflow() {
        // LONG1 of -2 (one byte 0xfe), then LONG1 of 2**64 (nine bytes).
        let bytes = b"\x80\x02\x8a\x01\xfe\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01\x86.";
        let value = read_pickle(bytes).unwrap_or_else(|e| panic!("{e}"));
        let items = value.as_seq().unwrap_or_else(|| panic!("not a tuple"));
        assert_eq!(items[0], Value::Int(-2));
        assert_eq!(items[1], Value::BigInt(9));
    }

    #[test]
    fn every_truncation_of_a_pickle_is_an_error_not_a_panic() {
        let bytes: &[u8] =
            b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02M,\x01u.";
        for end in 0..bytes.len() {
            assert!(
                read_pickle(&bytes[..end]).is_err(),
                "prefix of {end} bytes was accepted"
            );
        }
    }

    #[test]
    fn a_list_doubled_through_the_memo_hits_the_budget() {
        // A list, then 64 times: put it in the memo, get it twice, and append one copy to the
        // other. Each round doubles the list; the budget stops it.
        let mut bytes = b"\x80\x02]K\x01a".to_vec();
        for _ in 0..64 {
            bytes.extend_from_slice(b"q\x00h\x00e");
            bytes.extend_from_slice(b"(h\x00e");
        }
        bytes.push(b'.');
        // Whatever happens, it must end quickly with a value or an error, never exhaust memory.
        let _ = read_pickle(&bytes);
    }

    #[test]
    fn deeply_nested_tuples_are_refused_before_they_can_overflow_the_stack() {
        // 100,000 one-element tuples inside each other: EMPTY_TUPLE, then TUPLE1 repeatedly.
        let mut bytes = b"\x80\x02)".to_vec();
        bytes.extend(std::iter::repeat_n(0x85u8, 100_000));
        bytes.push(b'.');
        assert_eq!(read_pickle(&bytes), Err(PickleError::TooLarge));

        // 200 levels are fine.
        let mut bytes = b"\x80\x02)".to_vec();
        bytes.extend(std::iter::repeat_n(0x85u8, 200));
        bytes.push(b'.');
        assert!(read_pickle(&bytes).is_ok());
    }

    #[test]
    fn an_unknown_opcode_is_named() {
        let err = read_pickle(b"\x80\x02\xff.").err();
        assert_eq!(
            err,
            Some(PickleError::UnsupportedOpcode {
                opcode: 0xff,
                offset: 2
            })
        );
    }
}
