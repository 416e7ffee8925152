//! The binary packet protocol (RFC 4253 §6): packet lengths checked before
//! buffering, padding, sequence numbers, and the MAC or AEAD of the keys in use.

use super::{MAX_BACKLOG, Transport, TransportError, protocol};
use crate::wire::Write;
use rand_core::Rng;

impl Transport {
    /// Consumes bytes of packets; returns how many. Buffers at most one packet, after
    /// its length is checked.
    pub(super) fn read_packet(&mut self, data: &[u8]) -> Result<usize, TransportError> {
        let need = match self.in_len {
            None => self.rx.head_len(),
            Some(len) => 4 + len + self.rx.tag_len(),
        };
        let take = need.saturating_sub(self.inbuf.len()).min(data.len());
        self.inbuf.extend_from_slice(&data[..take]);
        if self.inbuf.len() < need {
            return Ok(take);
        }
        if self.in_len.is_none() {
            let head = self.rx.head_len();
            let len = self.rx.read_length(self.rx_seq, &mut self.inbuf[..head]) as usize;
            self.check_length(len)?;
            self.in_len = Some(len);
            self.inbuf
                .reserve_exact((4 + len + self.rx.tag_len()).saturating_sub(self.inbuf.len()));
            if self.inbuf.len() < 4 + len + self.rx.tag_len() {
                return Ok(take);
            }
        }
        let len = self.in_len.take().unwrap_or(0);
        let mut pkt = std::mem::take(&mut self.inbuf);
        self.rx
            .open(self.rx_seq, &mut pkt)
            .map_err(|_| TransportError::Mac)?;
        let padding = usize::from(*pkt.get(4).ok_or_else(|| protocol("short packet"))?);
        if padding < 4 || padding + 1 >= len {
            return Err(protocol(format!(
                "bad padding length {padding} in a packet of {len} bytes"
            )));
        }
        let payload = pkt
            .get(5..4 + len - padding)
            .ok_or_else(|| protocol("short packet"))?
            .to_vec();
        pkt.clear();
        self.inbuf = pkt;
        let seq = self.rx_seq;
        self.rx_seq = self.rx_seq.wrapping_add(1);
        if self.rx_seq == 0 && !self.ready {
            return Err(protocol(
                "sequence number wrapped during the initial key exchange",
            ));
        }
        self.rx_bytes += (4 + len) as u64;
        self.rx_packets += 1;
        self.rx_total += 1;
        self.handle(seq, payload)?;
        if self.out.len() > 2 * MAX_BACKLOG {
            return Err(TransportError::Backlog("output the caller has not written"));
        }
        self.maybe_rekey();
        Ok(take)
    }

    fn check_length(&self, len: usize) -> Result<(), TransportError> {
        if len > self.cfg.max_packet {
            return Err(TransportError::PacketTooLarge(len));
        }
        if len < 5 {
            return Err(protocol(format!("packet length {len} is too small")));
        }
        let bs = self.rx.block();
        let covered = if self.rx.length_apart() { len } else { len + 4 };
        if covered % bs != 0 {
            return Err(protocol(format!(
                "packet length {len} is not a multiple of the cipher block ({bs})"
            )));
        }
        Ok(())
    }

    /// Frames, protects and queues one packet.
    pub(super) fn send_packet(&mut self, payload: &[u8]) {
        let bs = self.tx.block();
        let fixed = if self.tx.length_apart() { 1 } else { 5 };
        let mut pad = bs - (fixed + payload.len()) % bs;
        if pad < 4 {
            pad += bs;
        }
        let len = 1 + payload.len() + pad;
        let mut p = Vec::with_capacity(4 + len + self.tx.tag_len());
        p.put_u32(len as u32);
        p.put_u8(pad as u8);
        p.extend_from_slice(payload);
        let at = p.len();
        p.resize(at + pad, 0);
        self.rng.fill_bytes(&mut p[at..]);
        self.tx.seal(self.tx_seq, &mut p);
        self.out.extend_from_slice(&p);
        self.tx_seq = self.tx_seq.wrapping_add(1);
        self.tx_bytes += (4 + len) as u64;
        self.tx_packets += 1;
    }
}
