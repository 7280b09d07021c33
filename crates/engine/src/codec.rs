//! Values as bytes that another process of the same program turns back into equal values:
//! what branch inputs, results and checkpointed Task inputs travel as. A [`crate::Runtime`]
//! provides the [`ValueCodec`] for its own objects (Python pickles them); [`JsonCodec`] is
//! the fallback for runtimes whose values are plain JSON.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use asl::Value;
use serde_json::Value as Json;

/// Bytes written by one process and read by another, usually in shared memory.
pub trait PayloadBytes: Send + Sync {
    fn bytes(&self) -> &[u8];

    /// A file descriptor whose content, from offset 0, is [`PayloadBytes::bytes`] (a memfd).
    /// A codec may map it to hand out large buffers without copying them.
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

impl PayloadBytes for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// Encoded values, shared between the threads that read them.
pub type Payload = Arc<dyn PayloadBytes>;

/// Where a codec writes an encoding.
pub trait PayloadSink {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Bytes written so far.
    fn position(&self) -> u64;
    /// Says how many bytes the encoding will have in all, before writing them: shared memory
    /// allocated in one go costs a third of the same memory faulted in page by page.
    fn reserve(&mut self, _total: u64) -> io::Result<()> {
        Ok(())
    }
}

impl PayloadSink for Vec<u8> {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }

    fn position(&self) -> u64 {
        self.len() as u64
    }
}

/// A value could not be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The value has no encoding (a runtime object that cannot cross processes, a number
    /// JSON cannot hold): the value is at fault, as for a Lambda response that does not
    /// serialize.
    #[error("{0}")]
    Unencodable(String),
    /// Writing the encoding failed (the payload's memory): the value is not at fault.
    #[error("cannot write the payload: {0}")]
    Write(String),
    /// The bytes are not a payload this codec wrote.
    #[error("{0}")]
    Corrupt(String),
}

/// Turns values into bytes another process of the same program can turn back into equal
/// values (a runtime's objects included).
pub trait ValueCodec: Send + Sync {
    /// Encodes `values` as one payload.
    fn encode(&self, values: &[&Value], out: &mut dyn PayloadSink) -> Result<(), CodecError>;
    /// The values of a payload [`ValueCodec::encode`] wrote, in order.
    fn decode(&self, payload: &Payload) -> Result<Vec<Value>, CodecError>;
}

/// Values as a JSON array: for runtimes whose values are JSON (native functions).
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonCodec;

struct SinkWriter<'a>(&'a mut dyn PayloadSink);

impl io::Write for SinkWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ValueCodec for JsonCodec {
    fn encode(&self, values: &[&Value], out: &mut dyn PayloadSink) -> Result<(), CodecError> {
        let json = values
            .iter()
            .map(|v| v.to_json())
            .collect::<Result<Vec<Json>, _>>()
            .map_err(|e| CodecError::Unencodable(e.to_string()))?;
        let mut writer = io::BufWriter::new(SinkWriter(out));
        serde_json::to_writer(&mut writer, &json).map_err(|e| CodecError::Write(e.to_string()))?;
        io::Write::flush(&mut writer).map_err(|e| CodecError::Write(e.to_string()))
    }

    fn decode(&self, payload: &Payload) -> Result<Vec<Value>, CodecError> {
        let json: Vec<Json> = serde_json::from_slice(payload.bytes())
            .map_err(|e| CodecError::Corrupt(e.to_string()))?;
        Ok(json.into_iter().map(Value::Json).collect())
    }
}
