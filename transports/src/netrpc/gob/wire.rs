//! Gob's primitive encodings: unsigned integers (one byte below 128, else
//! the negated byte count and the big-endian bytes), signed integers
//! (the sign in the low bit), floats (byte-reversed bits), and the
//! length-prefixed messages of a stream.

use super::GobError;

/// The most bytes one gob message may take.
pub(crate) const MAX_MESSAGE: usize = super::super::MAX_CALL;

pub(crate) fn put_uint(out: &mut Vec<u8>, x: u64) {
    let bytes = x.to_be_bytes();
    if x < 128 {
        out.push(bytes[7]);
        return;
    }
    // 1 to 8 bytes, the count sent negated.
    let n = 8 - x.leading_zeros() / 8;
    out.push(n.to_le_bytes()[0].wrapping_neg());
    out.extend_from_slice(&bytes[8 - n as usize..]);
}

pub(crate) fn put_int(out: &mut Vec<u8>, i: i64) {
    let u = if i < 0 {
        ((!i).cast_unsigned() << 1) | 1
    } else {
        i.cast_unsigned() << 1
    };
    put_uint(out, u);
}

pub(crate) fn put_float(out: &mut Vec<u8>, f: f64) {
    put_uint(out, f.to_bits().swap_bytes());
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Frames `payload` as one message of a stream: its length, then it.
pub(crate) fn put_message(out: &mut Vec<u8>, payload: &[u8]) {
    put_uint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// The first whole message in `input`: `Ok(Some((start, end)))` of its
/// payload, `Ok(None)` if more bytes are needed, an error if the length
/// is malformed or over [`MAX_MESSAGE`].
pub(crate) fn next_message(input: &[u8]) -> Result<Option<(usize, usize)>, GobError> {
    let mut r = Reader::new(input);
    let len = match r.uint() {
        Ok(len) => len,
        Err(GobError::Truncated) => return Ok(None),
        Err(e) => return Err(e),
    };
    if len == 0 {
        return Err(GobError::Malformed("a message of no bytes".into()));
    }
    let len = usize::try_from(len)
        .ok()
        .filter(|&n| n <= MAX_MESSAGE)
        .ok_or_else(|| GobError::Malformed(format!("a message of {len} bytes")))?;
    let start = r.pos;
    if input.len() - start < len {
        return Ok(None);
    }
    Ok(Some((start, start + len)))
}

/// Reads gob's primitives from a message.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn byte(&mut self) -> Result<u8, GobError> {
        let b = *self.buf.get(self.pos).ok_or(GobError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn uint(&mut self) -> Result<u64, GobError> {
        let b = self.byte()?;
        if b < 128 {
            return Ok(u64::from(b));
        }
        let n = usize::from(b.wrapping_neg());
        if n > 8 {
            return Err(GobError::Malformed(
                "an unsigned integer out of range".into(),
            ));
        }
        let bytes = self.take(n)?;
        Ok(bytes.iter().fold(0, |x, &b| (x << 8) | u64::from(b)))
    }

    pub(crate) fn int(&mut self) -> Result<i64, GobError> {
        let u = self.uint()?;
        Ok(if u & 1 == 1 {
            (!(u >> 1)).cast_signed()
        } else {
            (u >> 1).cast_signed()
        })
    }

    pub(crate) fn float(&mut self) -> Result<f64, GobError> {
        Ok(f64::from_bits(self.uint()?.swap_bytes()))
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], GobError> {
        let end = self.pos.checked_add(n).ok_or(GobError::Truncated)?;
        let bytes = self.buf.get(self.pos..end).ok_or(GobError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    /// A count of items still to come: never more than the bytes left, so
    /// a lying count cannot make a reader reserve memory it will not fill.
    pub(crate) fn count(&mut self) -> Result<usize, GobError> {
        let n = self.uint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len() - self.pos)
            .ok_or(GobError::Truncated)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], GobError> {
        let n = self.count()?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_in_gobs_encodings() {
        let mut out = Vec::new();
        put_uint(&mut out, 256);
        assert_eq!(out, [0xfe, 0x01, 0x00]);
        out.clear();
        put_int(&mut out, -1);
        put_int(&mut out, 7);
        put_int(&mut out, i64::MIN);
        put_float(&mut out, 1.5);
        assert_eq!(
            out,
            [
                0x01, 0x0e, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xf8, 0x3f
            ]
        );
        let mut r = Reader::new(&out);
        assert_eq!(r.int().unwrap(), -1);
        assert_eq!(r.int().unwrap(), 7);
        assert_eq!(r.int().unwrap(), i64::MIN);
        assert_eq!(r.float().unwrap().to_bits(), 1.5f64.to_bits());
        assert!(r.is_empty());
    }

    #[test]
    fn bad_lengths_are_errors_not_panics() {
        assert!(matches!(
            Reader::new(&[0xf0, 1]).uint(),
            Err(GobError::Malformed(_))
        ));
        assert!(matches!(
            Reader::new(&[0xfe, 1]).uint(),
            Err(GobError::Truncated)
        ));
        assert!(matches!(
            Reader::new(&[0xff]).count(),
            Err(GobError::Truncated)
        ));
        assert_eq!(next_message(&[3, 1, 2]).unwrap(), None);
        assert_eq!(next_message(&[2, 1, 2, 9]).unwrap(), Some((1, 3)));
        assert!(next_message(&[0]).is_err());
        assert!(next_message(&[0xfc, 0x7f, 0xff, 0xff, 0xff]).is_err());
    }
}
