//! The identification exchange (RFC 4253 §4.2): the server's version line, after at
//! most [`MAX_PRE_VERSION_LINES`] other lines.

use super::{
    MAX_PRE_VERSION_BYTES, MAX_PRE_VERSION_LINES, MAX_VERSION_LINE, Phase, Transport,
    TransportError,
};

impl Transport {
    /// Consumes bytes of the identification phase; returns how many.
    pub(super) fn read_version(&mut self, data: &[u8]) -> Result<usize, TransportError> {
        let (take, eol) = match data.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (data.len(), false),
        };
        self.version_bytes += take;
        if self.version_bytes > MAX_PRE_VERSION_BYTES {
            return Err(TransportError::Version(format!(
                "server sent no SSH-2.0 identification in its first {MAX_PRE_VERSION_BYTES} bytes"
            )));
        }
        // Text lines only, as OpenSSH: a control byte (not TAB, CR or LF) means the
        // peer is not an SSH server, said at once rather than after a timeout.
        if data[..take]
            .iter()
            .any(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7f)
        {
            return Err(TransportError::Version(
                "banner line contains invalid characters (not an SSH server?)".into(),
            ));
        }
        self.line.extend_from_slice(&data[..take]);
        if !eol {
            if self.line.starts_with(b"SSH-") && self.line.len() > MAX_VERSION_LINE {
                return Err(TransportError::Version(
                    "identification line longer than 255 bytes".into(),
                ));
            }
            return Ok(take);
        }
        let mut line = std::mem::take(&mut self.line);
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.starts_with(b"SSH-") {
            if line.len() + 2 > MAX_VERSION_LINE {
                return Err(TransportError::Version(
                    "identification line longer than 255 bytes".into(),
                ));
            }
            if !line.iter().all(|b| (0x20..0x7f).contains(b)) {
                return Err(TransportError::Version(
                    "identification line holds non-printable bytes".into(),
                ));
            }
            let s = String::from_utf8_lossy(&line).into_owned();
            if !(s.starts_with("SSH-2.0-") || s.starts_with("SSH-1.99-")) {
                let shown: String = s.chars().take(64).collect();
                return Err(TransportError::Version(format!(
                    "server does not speak SSH 2.0 ({shown})"
                )));
            }
            self.server_version = Some(s);
            self.phase = Phase::Packets;
        } else {
            self.lines += 1;
            if self.lines > MAX_PRE_VERSION_LINES {
                return Err(TransportError::Version(format!(
                    "server sent no SSH-2.0 identification in its first {MAX_PRE_VERSION_LINES} lines"
                )));
            }
        }
        Ok(take)
    }
}
