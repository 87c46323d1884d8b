//! Compact, exact binary encoding of [`Event`]s for journal payloads.
//!
//! Every field round-trips exactly: decimals as their mantissa and scale (so `1.20` stays `1.20`,
//! not `1.2`), trade ids as number or text, every `Option`, reject payloads byte for byte.
//!
//! # Format (version 1)
//! A payload starts with a format byte: [`FORMAT_EVENT`] (one event follows) or [`FORMAT_BATCH`]
//! (a varint count, then that many events). Then, per event, a tag byte (1 trade, 2 quote,
//! 3 candle, 4 book (old, no verified flag), 5 reject, 6 quality, 7 book, 8 book top) and the fields in declaration order:
//! - unsigned integers: LEB128 varint; signed: zigzag + varint; `u32` checksums: 4 bytes LE;
//! - `Decimal`: zigzag varint mantissa, then the scale as one byte;
//! - strings and byte strings: varint length, then the bytes (strings are UTF-8-checked);
//! - `Option<T>`: a byte 0 (absent) or 1 (present) then `T`; `bool`: a byte 0 or 1;
//! - small enums (side, trade kind, book kind, reject reason): a byte tag;
//! - the venue and the symbol go through per-payload string tables: varint 0 followed by the
//!   name the first time, varint `n` (1-based table index) afterwards, so a batch of trades on a
//!   few markets does not repeat the names, and the decoder shares one `Arc<str>` per symbol. The
//!   venue is stored by its name, so adding venues never renumbers stored data;
//! - the receive time is stored as the (wrapping) difference to the venue time, a few bytes
//!   instead of eight.
//!
//! Tags are fixed: adding an event kind or an enum variant adds a tag and must not reuse one
//! (the `match`es below are exhaustive, so the compiler points here when the model grows).

use std::sync::Arc;

use tickrec_model::{
    BookKind, BookTop, BookUpdate, Candle, Decimal, Event, Level, QualityEvent, QualityKind, Quote,
    Reject, RejectReason, Side, Trade, TradeId, TradeKind, Venue,
};

use crate::error::{DecodeError, JournalError};

/// Format byte of a payload holding one event.
pub const FORMAT_EVENT: u8 = 1;
/// Format byte of a payload holding a batch of events.
pub const FORMAT_BATCH: u8 = 2;

/// Entries per string table; later new names are written in full every time. Bounds the
/// encoder's linear search.
const MAX_TABLE: usize = 256;

const TAG_TRADE: u8 = 1;
const TAG_QUOTE: u8 = 2;
const TAG_CANDLE: u8 = 3;
const TAG_BOOK: u8 = 4;
const TAG_REJECT: u8 = 5;
const TAG_QUALITY: u8 = 6;
/// A book update with its `verified` flag (tag 4 is the older form without it, read as unverified).
const TAG_BOOK_VERIFIED: u8 = 7;
const TAG_BOOK_TOP: u8 = 8;

/// Appends the encoding of one event to `out`.
pub fn encode(ev: &Event, out: &mut Vec<u8>) {
    out.push(FORMAT_EVENT);
    Encoder {
        out,
        venues: Vec::new(),
        symbols: Vec::new(),
    }
    .event(ev);
}

/// Appends the encoding of a batch of events (one journal record) to `out`.
pub fn encode_batch(events: &[Event], out: &mut Vec<u8>) {
    out.push(FORMAT_BATCH);
    let mut enc = Encoder {
        out,
        venues: Vec::new(),
        symbols: Vec::new(),
    };
    enc.varint(events.len() as u64);
    for ev in events {
        enc.event(ev);
    }
}

/// Decodes a payload written by [`encode`].
///
/// # Errors
/// [`JournalError::Decode`] for anything that is not exactly one valid event (including a batch
/// payload and trailing bytes).
pub fn decode(bytes: &[u8]) -> Result<Event, JournalError> {
    let mut dec = Decoder::new(bytes);
    if dec.u8()? != FORMAT_EVENT {
        return Err(dec.err_at(0, "not a single-event payload").into());
    }
    let ev = dec.event()?;
    dec.finish()?;
    Ok(ev)
}

/// Decodes a payload written by [`encode_batch`] (or [`encode`], as a batch of one).
///
/// # Errors
/// [`JournalError::Decode`] when the payload is not a valid encoding.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Event>, JournalError> {
    let mut dec = Decoder::new(bytes);
    let events = match dec.u8()? {
        FORMAT_EVENT => vec![dec.event()?],
        FORMAT_BATCH => {
            let n = dec.varint()?;
            // Every event takes at least a few bytes: never trust the count for allocation.
            let cap = usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(dec.remaining() / 4);
            let mut events = Vec::with_capacity(cap);
            for _ in 0..n {
                events.push(dec.event()?);
            }
            events
        }
        _ => return Err(dec.err_at(0, "unknown payload format").into()),
    };
    dec.finish()?;
    Ok(events)
}

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    venues: Vec<Venue>,
    symbols: Vec<Arc<str>>,
}

impl Encoder<'_> {
    fn event(&mut self, ev: &Event) {
        match ev {
            Event::Trade(t) => {
                self.out.push(TAG_TRADE);
                self.venue(t.venue);
                self.symbol(&t.symbol);
                match &t.trade_id {
                    TradeId::Num(n) => {
                        self.out.push(0);
                        self.varint(*n);
                    }
                    TradeId::Text(s) => {
                        self.out.push(1);
                        self.bytes(s.as_bytes());
                    }
                }
                self.decimal(t.price);
                self.decimal(t.qty);
                self.out.push(side_tag(t.side));
                self.zigzag(t.ts_exchange_us);
                self.zigzag(t.ts_recv_us.wrapping_sub(t.ts_exchange_us));
                match t.kind {
                    TradeKind::Single => self.out.push(0),
                    TradeKind::Aggregate { first_id, last_id } => {
                        self.out.push(1);
                        self.varint(first_id);
                        self.varint(last_id);
                    }
                }
            }
            Event::Quote(q) => {
                self.out.push(TAG_QUOTE);
                self.venue(q.venue);
                self.symbol(&q.symbol);
                self.decimal(q.bid_price);
                self.decimal(q.bid_qty);
                self.decimal(q.ask_price);
                self.decimal(q.ask_qty);
                self.zigzag(q.ts_recv_us);
                self.opt_delta(q.ts_exchange_us, q.ts_recv_us);
                self.opt(q.update_id, Self::varint);
            }
            Event::Candle(c) => {
                self.out.push(TAG_CANDLE);
                self.venue(c.venue);
                self.symbol(&c.symbol);
                self.varint(u64::from(c.interval_s));
                self.zigzag(c.open_time_us);
                self.decimal(c.open);
                self.decimal(c.high);
                self.decimal(c.low);
                self.decimal(c.close);
                self.decimal(c.volume);
                self.opt(c.quote_volume, Self::decimal);
                self.opt(c.trades, Self::varint);
                self.out.push(u8::from(c.closed));
                self.zigzag(c.ts_exchange_us);
                self.zigzag(c.ts_recv_us.wrapping_sub(c.ts_exchange_us));
            }
            Event::Book(b) => {
                self.out.push(TAG_BOOK_VERIFIED);
                self.venue(b.venue);
                self.symbol(&b.symbol);
                self.out.push(match b.kind {
                    BookKind::Snapshot => 0,
                    BookKind::Delta => 1,
                });
                self.opt(b.first_update_id, Self::varint);
                self.opt(b.last_update_id, Self::varint);
                self.levels(&b.bids);
                self.levels(&b.asks);
                self.opt(b.checksum, |e, c| e.out.extend_from_slice(&c.to_le_bytes()));
                self.zigzag(b.ts_recv_us);
                self.opt_delta(b.ts_exchange_us, b.ts_recv_us);
                self.out.push(u8::from(b.verified));
            }
            Event::BookTop(b) => {
                self.out.push(TAG_BOOK_TOP);
                self.venue(b.venue);
                self.symbol(&b.symbol);
                self.opt(b.last_update_id, Self::varint);
                self.levels(&b.bids);
                self.levels(&b.asks);
                self.out.push(u8::from(b.verified));
                self.out.extend_from_slice(&b.digest.to_le_bytes());
                self.zigzag(b.ts_recv_us);
                self.opt_delta(b.ts_exchange_us, b.ts_recv_us);
            }
            Event::Reject(r) => {
                self.out.push(TAG_REJECT);
                self.venue(r.venue);
                match &r.symbol {
                    None => self.out.push(0),
                    Some(s) => {
                        self.out.push(1);
                        self.symbol(s);
                    }
                }
                self.out.push(reject_tag(r.reason));
                self.bytes(r.detail.as_bytes());
                self.bytes(&r.raw);
                self.zigzag(r.ts_recv_us);
            }
            Event::Quality(q) => {
                self.out.push(TAG_QUALITY);
                self.venue(q.venue);
                match &q.symbol {
                    None => self.out.push(0),
                    Some(s) => {
                        self.out.push(1);
                        self.symbol(s);
                    }
                }
                self.out.push(quality_tag(q.kind));
                self.zigzag(q.start_us);
                self.zigzag(q.end_us);
                self.varint(q.count);
                self.opt(q.from_id, Self::varint);
                self.opt(q.to_id, Self::varint);
                self.bytes(q.detail.as_bytes());
                self.zigzag(q.ts_recv_us);
            }
        }
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn decimal(&mut self, d: Decimal) {
        self.zigzag(d.mantissa());
        self.out.push(d.scale());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.out.extend_from_slice(b);
    }

    fn opt<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T)) {
        match v {
            None => self.out.push(0),
            Some(v) => {
                self.out.push(1);
                f(self, v);
            }
        }
    }

    /// An optional time stored relative to `base`.
    fn opt_delta(&mut self, v: Option<i64>, base: i64) {
        self.opt(v, |e, v| e.zigzag(v.wrapping_sub(base)));
    }

    fn levels(&mut self, levels: &[Level]) {
        self.varint(levels.len() as u64);
        for l in levels {
            self.decimal(l.price);
            self.decimal(l.qty);
        }
    }

    fn venue(&mut self, v: Venue) {
        match self.venues.iter().position(|x| *x == v) {
            Some(i) => self.varint(i as u64 + 1),
            None => {
                self.varint(0);
                self.bytes(v.as_str().as_bytes());
                if self.venues.len() < MAX_TABLE {
                    self.venues.push(v);
                }
            }
        }
    }

    fn symbol(&mut self, s: &Arc<str>) {
        let found = self
            .symbols
            .iter()
            .position(|x| Arc::ptr_eq(x, s) || **x == **s);
        match found {
            Some(i) => self.varint(i as u64 + 1),
            None => {
                self.varint(0);
                self.bytes(s.as_bytes());
                if self.symbols.len() < MAX_TABLE {
                    self.symbols.push(Arc::clone(s));
                }
            }
        }
    }
}

struct Decoder<'a> {
    b: &'a [u8],
    pos: usize,
    venues: Vec<Venue>,
    symbols: Vec<Arc<str>>,
}

impl<'a> Decoder<'a> {
    fn new(b: &'a [u8]) -> Self {
        Decoder {
            b,
            pos: 0,
            venues: Vec::new(),
            symbols: Vec::new(),
        }
    }

    fn err_at(&self, offset: usize, what: &'static str) -> DecodeError {
        DecodeError { what, offset }
    }

    fn err(&self, what: &'static str) -> DecodeError {
        self.err_at(self.pos, what)
    }

    fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }

    fn finish(&self) -> Result<(), DecodeError> {
        if self.pos == self.b.len() {
            Ok(())
        } else {
            Err(self.err("trailing bytes"))
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| self.err("truncated"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        let v = *self.b.get(self.pos).ok_or_else(|| self.err("truncated"))?;
        self.pos += 1;
        Ok(v)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut v: u64 = 0;
        for i in 0..10 {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            // The 10th byte may only carry the top bit of a u64.
            if i == 9 && byte > 1 {
                return Err(self.err_at(start, "varint overflows u64"));
            }
            v |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err_at(start, "varint too long"))
    }

    fn zigzag(&mut self) -> Result<i64, DecodeError> {
        let u = self.varint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    fn u32_le(&mut self) -> Result<u32, DecodeError> {
        let b: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| self.err("truncated"))?;
        Ok(u32::from_le_bytes(b))
    }

    fn len(&mut self) -> Result<usize, DecodeError> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.remaining())
            .ok_or_else(|| self.err("length past the end"))
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.len()?;
        self.take(n)
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let b = self.bytes()?;
        std::str::from_utf8(b).map_err(|_| self.err_at(at, "string is not UTF-8"))
    }

    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.err_at(self.pos - 1, "bad bool")),
        }
    }

    fn opt<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if self
            .bool()
            .map_err(|_| self.err_at(self.pos - 1, "bad option tag"))?
        {
            f(self).map(Some)
        } else {
            Ok(None)
        }
    }

    fn decimal(&mut self) -> Result<Decimal, DecodeError> {
        let m = self.zigzag()?;
        let at = self.pos;
        let scale = self.u8()?;
        Decimal::new(m, scale).map_err(|_| self.err_at(at, "decimal scale out of range"))
    }

    fn levels(&mut self) -> Result<Vec<Level>, DecodeError> {
        let n = self.varint()?;
        let cap = usize::try_from(n)
            .unwrap_or(usize::MAX)
            .min(self.remaining() / 4);
        let mut levels = Vec::with_capacity(cap);
        for _ in 0..n {
            levels.push(Level {
                price: self.decimal()?,
                qty: self.decimal()?,
            });
        }
        Ok(levels)
    }

    fn venue(&mut self) -> Result<Venue, DecodeError> {
        let at = self.pos;
        match self.varint()? {
            0 => {
                let name = self.str()?;
                let v: Venue = name.parse().map_err(|_| self.err_at(at, "unknown venue"))?;
                if self.venues.len() < MAX_TABLE {
                    self.venues.push(v);
                }
                Ok(v)
            }
            n => usize::try_from(n - 1)
                .ok()
                .and_then(|i| self.venues.get(i))
                .copied()
                .ok_or_else(|| self.err_at(at, "venue table index out of range")),
        }
    }

    fn symbol(&mut self) -> Result<Arc<str>, DecodeError> {
        let at = self.pos;
        match self.varint()? {
            0 => {
                let s: Arc<str> = Arc::from(self.str()?);
                if self.symbols.len() < MAX_TABLE {
                    self.symbols.push(Arc::clone(&s));
                }
                Ok(s)
            }
            n => usize::try_from(n - 1)
                .ok()
                .and_then(|i| self.symbols.get(i))
                .cloned()
                .ok_or_else(|| self.err_at(at, "symbol table index out of range")),
        }
    }

    fn side(&mut self) -> Result<Side, DecodeError> {
        let at = self.pos;
        side_from_tag(self.u8()?).ok_or_else(|| self.err_at(at, "unknown side"))
    }

    fn event(&mut self) -> Result<Event, DecodeError> {
        let at = self.pos;
        let tag = self.u8()?;
        Ok(match tag {
            TAG_TRADE => {
                let venue = self.venue()?;
                let symbol = self.symbol()?;
                let id_at = self.pos;
                let trade_id = match self.u8()? {
                    0 => TradeId::Num(self.varint()?),
                    1 => TradeId::Text(self.str()?.into()),
                    _ => return Err(self.err_at(id_at, "unknown trade id kind")),
                };
                let price = self.decimal()?;
                let qty = self.decimal()?;
                let side = self.side()?;
                let ts_exchange_us = self.zigzag()?;
                let ts_recv_us = ts_exchange_us.wrapping_add(self.zigzag()?);
                let kind_at = self.pos;
                let kind = match self.u8()? {
                    0 => TradeKind::Single,
                    1 => TradeKind::Aggregate {
                        first_id: self.varint()?,
                        last_id: self.varint()?,
                    },
                    _ => return Err(self.err_at(kind_at, "unknown trade kind")),
                };
                Event::Trade(Trade {
                    venue,
                    symbol,
                    trade_id,
                    price,
                    qty,
                    side,
                    ts_exchange_us,
                    ts_recv_us,
                    kind,
                })
            }
            TAG_QUOTE => {
                let venue = self.venue()?;
                let symbol = self.symbol()?;
                let bid_price = self.decimal()?;
                let bid_qty = self.decimal()?;
                let ask_price = self.decimal()?;
                let ask_qty = self.decimal()?;
                let ts_recv_us = self.zigzag()?;
                let ts_exchange_us = self.opt(Self::zigzag)?.map(|d| ts_recv_us.wrapping_add(d));
                let update_id = self.opt(Self::varint)?;
                Event::Quote(Quote {
                    venue,
                    symbol,
                    bid_price,
                    bid_qty,
                    ask_price,
                    ask_qty,
                    ts_exchange_us,
                    ts_recv_us,
                    update_id,
                })
            }
            TAG_CANDLE => {
                let venue = self.venue()?;
                let symbol = self.symbol()?;
                let iv_at = self.pos;
                let interval_s = u32::try_from(self.varint()?)
                    .map_err(|_| self.err_at(iv_at, "interval out of range"))?;
                let open_time_us = self.zigzag()?;
                let open = self.decimal()?;
                let high = self.decimal()?;
                let low = self.decimal()?;
                let close = self.decimal()?;
                let volume = self.decimal()?;
                let quote_volume = self.opt(Self::decimal)?;
                let trades = self.opt(Self::varint)?;
                let closed = self.bool()?;
                let ts_exchange_us = self.zigzag()?;
                let ts_recv_us = ts_exchange_us.wrapping_add(self.zigzag()?);
                Event::Candle(Candle {
                    venue,
                    symbol,
                    interval_s,
                    open_time_us,
                    open,
                    high,
                    low,
                    close,
                    volume,
                    quote_volume,
                    trades,
                    closed,
                    ts_exchange_us,
                    ts_recv_us,
                })
            }
            TAG_BOOK | TAG_BOOK_VERIFIED => {
                let venue = self.venue()?;
                let symbol = self.symbol()?;
                let kind_at = self.pos;
                let kind = match self.u8()? {
                    0 => BookKind::Snapshot,
                    1 => BookKind::Delta,
                    _ => return Err(self.err_at(kind_at, "unknown book kind")),
                };
                let first_update_id = self.opt(Self::varint)?;
                let last_update_id = self.opt(Self::varint)?;
                let bids = self.levels()?;
                let asks = self.levels()?;
                let checksum = self.opt(Self::u32_le)?;
                let ts_recv_us = self.zigzag()?;
                let ts_exchange_us = self.opt(Self::zigzag)?.map(|d| ts_recv_us.wrapping_add(d));
                let verified = tag == TAG_BOOK_VERIFIED && self.bool()?;
                Event::Book(BookUpdate {
                    venue,
                    symbol,
                    kind,
                    first_update_id,
                    last_update_id,
                    bids,
                    asks,
                    checksum,
                    ts_exchange_us,
                    ts_recv_us,
                    verified,
                })
            }
            TAG_BOOK_TOP => {
                let venue = self.venue()?;
                let symbol = self.symbol()?;
                let last_update_id = self.opt(Self::varint)?;
                let bids = self.levels()?;
                let asks = self.levels()?;
                let verified = self.bool()?;
                let digest_bytes = self.take(8)?;
                let mut d = [0u8; 8];
                d.copy_from_slice(digest_bytes);
                let digest = u64::from_le_bytes(d);
                let ts_recv_us = self.zigzag()?;
                let ts_exchange_us = self.opt(Self::zigzag)?.map(|d| ts_recv_us.wrapping_add(d));
                Event::BookTop(BookTop {
                    venue,
                    symbol,
                    last_update_id,
                    bids,
                    asks,
                    verified,
                    digest,
                    ts_exchange_us,
                    ts_recv_us,
                })
            }
            TAG_REJECT => {
                let venue = self.venue()?;
                let symbol = self.opt(Self::symbol)?;
                let reason_at = self.pos;
                let reason = reject_from_tag(self.u8()?)
                    .ok_or_else(|| self.err_at(reason_at, "unknown reject reason"))?;
                let detail = self.str()?.to_string();
                // Not `Reject::new`: it would truncate, and decoding must give back exactly what
                // was encoded.
                let raw = self.bytes()?.to_vec();
                let ts_recv_us = self.zigzag()?;
                Event::Reject(Reject {
                    venue,
                    symbol,
                    reason,
                    detail,
                    raw,
                    ts_recv_us,
                })
            }
            TAG_QUALITY => {
                let venue = self.venue()?;
                let symbol = self.opt(Self::symbol)?;
                let kind_at = self.pos;
                let kind = quality_from_tag(self.u8()?)
                    .ok_or_else(|| self.err_at(kind_at, "unknown data-quality kind"))?;
                Event::Quality(QualityEvent {
                    venue,
                    symbol,
                    kind,
                    start_us: self.zigzag()?,
                    end_us: self.zigzag()?,
                    count: self.varint()?,
                    from_id: self.opt(Self::varint)?,
                    to_id: self.opt(Self::varint)?,
                    detail: self.str()?.to_string(),
                    ts_recv_us: self.zigzag()?,
                })
            }
            _ => return Err(self.err_at(at, "unknown event tag")),
        })
    }
}

const fn side_tag(s: Side) -> u8 {
    match s {
        Side::Buy => 0,
        Side::Sell => 1,
        Side::Unknown => 2,
    }
}

const fn side_from_tag(t: u8) -> Option<Side> {
    match t {
        0 => Some(Side::Buy),
        1 => Some(Side::Sell),
        2 => Some(Side::Unknown),
        _ => None,
    }
}

const fn reject_tag(r: RejectReason) -> u8 {
    match r {
        RejectReason::MalformedJson => 0,
        RejectReason::UnknownMessage => 1,
        RejectReason::UnknownSymbol => 2,
        RejectReason::MissingField => 3,
        RejectReason::NonPositivePrice => 4,
        RejectReason::NonPositiveQty => 5,
        RejectReason::BadNumber => 6,
        RejectReason::BadTimestamp => 7,
        RejectReason::Oversized => 8,
        RejectReason::BinaryFrame => 9,
        RejectReason::InvalidUtf8 => 10,
        RejectReason::VenueError => 11,
    }
}

/// The reject reason stored under tag `t` (tests enumerate every reason through this).
pub(crate) const fn reject_from_tag(t: u8) -> Option<RejectReason> {
    Some(match t {
        0 => RejectReason::MalformedJson,
        1 => RejectReason::UnknownMessage,
        2 => RejectReason::UnknownSymbol,
        3 => RejectReason::MissingField,
        4 => RejectReason::NonPositivePrice,
        5 => RejectReason::NonPositiveQty,
        6 => RejectReason::BadNumber,
        7 => RejectReason::BadTimestamp,
        8 => RejectReason::Oversized,
        9 => RejectReason::BinaryFrame,
        10 => RejectReason::InvalidUtf8,
        11 => RejectReason::VenueError,
        _ => return None,
    })
}

const fn quality_tag(k: QualityKind) -> u8 {
    match k {
        QualityKind::Reconnect => 0,
        QualityKind::Stale => 1,
        QualityKind::Gap => 2,
        QualityKind::GapBackfilled => 3,
        QualityKind::GapUnrepaired => 4,
        QualityKind::BookGap => 5,
        QualityKind::BookChecksum => 6,
        QualityKind::BookResync => 7,
        QualityKind::BookCrossed => 8,
    }
}

/// The data-quality kind stored under tag `t`.
pub(crate) const fn quality_from_tag(t: u8) -> Option<QualityKind> {
    Some(match t {
        0 => QualityKind::Reconnect,
        1 => QualityKind::Stale,
        2 => QualityKind::Gap,
        3 => QualityKind::GapBackfilled,
        4 => QualityKind::GapUnrepaired,
        5 => QualityKind::BookGap,
        6 => QualityKind::BookChecksum,
        7 => QualityKind::BookResync,
        8 => QualityKind::BookCrossed,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_quality_kind_round_trips_through_its_tag() {
        let mut n = 0;
        for t in 0..=u8::MAX {
            if let Some(k) = quality_from_tag(t) {
                assert_eq!(quality_tag(k), t);
                n += 1;
            }
        }
        assert_eq!(n, 9, "a new QualityKind needs a tag");
    }

    #[test]
    fn a_book_update_of_the_old_tag_reads_as_unverified() {
        let b = BookUpdate {
            venue: Venue::Okx,
            symbol: Arc::from("BTC/USDT"),
            kind: BookKind::Delta,
            first_update_id: Some(7),
            last_update_id: Some(8),
            bids: Vec::new(),
            asks: Vec::new(),
            checksum: None,
            ts_exchange_us: None,
            ts_recv_us: 10,
            verified: true,
        };
        let mut bytes = Vec::new();
        encode(&Event::Book(b.clone()), &mut bytes);
        assert_eq!(decode(&bytes).unwrap(), Event::Book(b.clone()));
        // Tag 4 (before the flag existed): same fields, no trailing flag byte.
        assert_eq!(bytes[1], TAG_BOOK_VERIFIED);
        bytes[1] = TAG_BOOK;
        bytes.pop();
        let old = decode(&bytes).unwrap();
        assert_eq!(
            old,
            Event::Book(BookUpdate {
                verified: false,
                ..b
            })
        );
    }

    #[test]
    fn every_reject_reason_round_trips_through_its_tag() {
        let mut n = 0;
        for t in 0..=u8::MAX {
            if let Some(r) = reject_from_tag(t) {
                assert_eq!(reject_tag(r), t);
                n += 1;
            }
        }
        assert_eq!(n, 12);
        for s in [Side::Buy, Side::Sell, Side::Unknown] {
            assert_eq!(side_from_tag(side_tag(s)), Some(s));
        }
    }

    #[test]
    fn varints_round_trip_at_the_edges_and_reject_overflow() {
        for v in [0, 1, 127, 128, 300, u64::MAX / 2, u64::MAX] {
            let mut out = Vec::new();
            Encoder {
                out: &mut out,
                venues: Vec::new(),
                symbols: Vec::new(),
            }
            .varint(v);
            assert_eq!(Decoder::new(&out).varint().unwrap(), v);
        }
        for v in [0, 1, -1, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            Encoder {
                out: &mut out,
                venues: Vec::new(),
                symbols: Vec::new(),
            }
            .zigzag(v);
            assert_eq!(Decoder::new(&out).zigzag().unwrap(), v);
        }
        let overflow = [0xff; 9].into_iter().chain([0x02]).collect::<Vec<u8>>();
        assert!(Decoder::new(&overflow).varint().is_err());
        assert!(Decoder::new(&[0x80; 11]).varint().is_err());
    }
}
