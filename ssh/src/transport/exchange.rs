//! Key exchange and re-exchange (RFC 4253 §7-9), with strict KEX: KEXINIT both
//! ways, the ephemeral exchange, the host key's signature over H, NEWKEYS and the
//! switch of keys in each direction.

use super::{Kex, Phase, Transport, TransportError, TransportEvent, protocol};
use crate::cipher::{self, Direction};
use crate::kex::{self, Ephemeral, HashAlg};
use crate::keys::PublicKey;
use rand_core::Rng;

impl Transport {
    pub(super) fn start_kex(&mut self) {
        let mut cookie = [0u8; 16];
        self.rng.fill_bytes(&mut cookie);
        let ours = kex::build_kexinit(cookie, self.cfg.legacy, self.session_id.is_none());
        self.send_packet(&ours);
        self.kex = Some(Kex {
            ours,
            theirs: None,
            neg: None,
            eph: None,
            ignore_guess: false,
            new_rx: None,
        });
    }

    pub(super) fn maybe_rekey(&mut self) {
        if self.kex.is_some() || !self.ready || self.phase != Phase::Packets {
            return;
        }
        let c = &self.cfg;
        if self.tx_bytes >= c.rekey_bytes
            || self.rx_bytes >= c.rekey_bytes
            || self.tx_packets >= c.rekey_packets
            || self.rx_packets >= c.rekey_packets
        {
            self.start_kex();
        }
    }

    pub(super) fn on_kexinit(&mut self, payload: Vec<u8>) -> Result<(), TransportError> {
        if self.kex.as_ref().is_some_and(|k| k.theirs.is_some()) {
            return Err(protocol("second KEXINIT during a key exchange"));
        }
        let first = self.session_id.is_none();
        let theirs = kex::parse_kexinit(&payload).map_err(|m| protocol(m.to_string()))?;
        let mut neg = kex::negotiate(&theirs, self.cfg.legacy).map_err(|e| {
            TransportError::NoCommonAlgorithm {
                what: e.what,
                server_offers: e.server_offers,
            }
        })?;
        if first {
            self.strict = neg.strict_kex;
            if self.strict && self.rx_total > 1 {
                return Err(protocol(
                    "KEXINIT was not the server's first packet (strict KEX)",
                ));
            }
        } else {
            neg.strict_kex = self.strict;
        }
        let ignore_guess = kex::guess_was_wrong(&theirs, &neg);
        if self.kex.is_none() {
            self.start_kex();
        }
        let (eph, init) = Ephemeral::new(neg.kex, &mut self.rng);
        self.send_packet(&init);
        if let Some(k) = self.kex.as_mut() {
            k.theirs = Some(payload);
            k.neg = Some(neg);
            k.eph = Some(eph);
            k.ignore_guess = ignore_guess;
        }
        Ok(())
    }

    pub(super) fn on_kex_message(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        let Some(k) = self.kex.as_mut() else {
            return Err(protocol("key exchange message outside a key exchange"));
        };
        if k.ignore_guess {
            k.ignore_guess = false;
            return Ok(());
        }
        let (Some(neg), Some(theirs)) = (k.neg.clone(), k.theirs.as_ref()) else {
            return Err(protocol("key exchange message before KEXINIT"));
        };
        if payload.first() != Some(&kex::MSG_KEX_REPLY) || k.new_rx.is_some() {
            return Err(protocol(format!(
                "unexpected key exchange message {}",
                payload.first().copied().unwrap_or(0)
            )));
        }
        let Some(eph) = k.eph.take() else {
            return Err(protocol("key exchange reply without our INIT"));
        };
        let reply = kex::parse_reply(neg.kex, payload).map_err(|m| protocol(m.to_string()))?;
        let shared = eph.shared(reply.server_public).map_err(|f| match f {
            kex::KexFailure::Malformed(m) => protocol(m.to_string()),
            kex::KexFailure::BadPublic(s) => protocol(s),
        })?;
        let hash = HashAlg::of(neg.kex);
        let v_s = self.server_version.as_deref().unwrap_or("").as_bytes();
        let v_c = self.cfg.client_version.replace(['\r', '\n'], "");
        let h = kex::exchange_hash(
            hash,
            v_c.as_bytes(),
            v_s,
            &k.ours,
            theirs,
            reply.host_key,
            &eph,
            reply.server_public,
            &shared,
        );
        drop(eph);
        let key = PublicKey::from_blob(reply.host_key)
            .map_err(|e| TransportError::HostKeySignature(e.to_string()))?;
        if !key_fits(key.key_type(), neg.host_key_algorithm) {
            return Err(TransportError::HostKeySignature(format!(
                "server sent a {} key for algorithm {}",
                key.key_type(),
                neg.host_key_algorithm
            )));
        }
        key.verify(neg.host_key_algorithm, &h, reply.signature)
            .map_err(|e| {
                TransportError::HostKeySignature(format!("signature over the exchange hash: {e}"))
            })?;
        let first = self.session_id.is_none();
        if first {
            self.session_id = Some(h.clone());
            self.host_key = Some(key.clone());
            self.events.push_back(TransportEvent::HostKey {
                key,
                algorithm: neg.host_key_algorithm,
            });
        } else if self.host_key.as_ref().map(|k| k.blob()) != Some(key.blob()) {
            return Err(TransportError::HostKeyChanged);
        }
        let sid = self.session_id.clone().unwrap_or_default();
        let bad = |_| protocol("negotiated an unknown cipher");
        let c2s = cipher::cipher_spec(neg.cipher_client_to_server)
            .ok_or(())
            .map_err(bad)?;
        let s2c = cipher::cipher_spec(neg.cipher_server_to_client)
            .ok_or(())
            .map_err(bad)?;
        let m_c2s = neg.mac_client_to_server.and_then(cipher::mac_spec);
        let m_s2c = neg.mac_server_to_client.and_then(cipher::mac_spec);
        let d = kex::derive_all(hash, &shared, &h, &sid, c2s, s2c, m_c2s, m_s2c);
        let new_tx = Direction::new(c2s, m_c2s, &d.key_c2s, &d.iv_c2s, &d.mac_c2s)
            .map_err(|_| protocol("key setup failed"))?;
        let new_rx = Direction::new(s2c, m_s2c, &d.key_s2c, &d.iv_s2c, &d.mac_s2c)
            .map_err(|_| protocol("key setup failed"))?;
        if let Some(k) = self.kex.as_mut() {
            k.new_rx = Some(new_rx);
        }
        // NEWKEYS goes out under the old keys; everything after under the new.
        self.send_packet(&[kex::MSG_NEWKEYS]);
        self.tx = new_tx;
        if self.strict {
            self.tx_seq = 0;
        }
        self.tx_bytes = 0;
        self.tx_packets = 0;
        while let Some(p) = self.queued.pop_front() {
            self.queued_bytes = self.queued_bytes.saturating_sub(p.len());
            self.send_packet(&p);
        }
        Ok(())
    }

    pub(super) fn on_newkeys(&mut self) -> Result<(), TransportError> {
        let Some(new_rx) = self.kex.as_mut().and_then(|k| k.new_rx.take()) else {
            return Err(protocol("NEWKEYS before the key exchange reply"));
        };
        let neg = self.kex.take().and_then(|k| k.neg);
        self.rx = new_rx;
        if self.strict {
            self.rx_seq = 0;
        }
        self.rx_bytes = 0;
        self.rx_packets = 0;
        self.exchanges += 1;
        if let Some(n) = neg {
            if n.kex == kex::KEX_LEGACY && !self.legacy_seen.contains(&kex::KEX_LEGACY) {
                self.legacy_seen.push(kex::KEX_LEGACY);
            }
            if n.host_key_algorithm == kex::HOST_KEY_LEGACY
                && !self.legacy_seen.contains(&kex::HOST_KEY_LEGACY)
            {
                self.legacy_seen.push(kex::HOST_KEY_LEGACY);
            }
            self.negotiated = Some(n);
        }
        if !self.ready {
            self.ready = true;
            self.events.push_back(TransportEvent::Ready);
        }
        Ok(())
    }
}

/// Whether a host key of type `key_type` can sign with `algorithm`.
fn key_fits(key_type: &str, algorithm: &str) -> bool {
    match algorithm {
        "rsa-sha2-256" | "rsa-sha2-512" | "ssh-rsa" => key_type == "ssh-rsa",
        a => key_type == a,
    }
}
