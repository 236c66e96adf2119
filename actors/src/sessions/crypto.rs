//! Sealing a session file's state with AES-256-GCM (RustCrypto's `aes-gcm`): the key is SHA-256
//! of the `[sessions] key_env` variable's value, every write draws a fresh random 96-bit nonce,
//! and the session id is the associated data, so a file renamed to another id fails to open
//! just as a tampered one or one sealed with another key does.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The key for a variable's value.
pub(super) fn derive_key(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// Seals `plain` for session `id`.
pub(super) fn seal(key: &[u8; 32], id: &str, plain: &[u8]) -> Sealed {
    let cipher = Aes256Gcm::new(key.into());
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let payload = Payload {
        msg: plain,
        aad: id.as_bytes(),
    };
    // Encryption fails only for messages past GCM's 64 GiB limit.
    let ciphertext = cipher.encrypt(&nonce, payload).unwrap_or_default();
    Sealed {
        alg: ALG.into(),
        nonce: STANDARD.encode(nonce),
        ciphertext: STANDARD.encode(ciphertext),
    }
}

/// Opens a sealed state of session `id`; `Err` for a wrong key, another id, or any change.
pub(super) fn open(key: &[u8; 32], id: &str, sealed: &Sealed) -> Result<Vec<u8>, ()> {
    if sealed.alg != ALG {
        return Err(());
    }
    let nonce = STANDARD.decode(&sealed.nonce).map_err(|_| ())?;
    let ciphertext = STANDARD.decode(&sealed.ciphertext).map_err(|_| ())?;
    if nonce.len() != NONCE_BYTES {
        return Err(());
    }
    let cipher = Aes256Gcm::new(key.into());
    let payload = Payload {
        msg: &ciphertext,
        aad: id.as_bytes(),
    };
    cipher
        .decrypt(Nonce::from_slice(&nonce), payload)
        .map_err(|_| ())
}

/// The algorithm every sealed file names.
const ALG: &str = "A256GCM";
/// GCM's 96-bit nonce.
const NONCE_BYTES: usize = 12;

/// A sealed state, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Sealed {
    alg: String,
    nonce: String,
    ciphertext: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_state_opens_only_with_its_key_and_id_and_untouched() {
        let key = derive_key("k1");
        let sealed = seal(&key, "acme", b"{\"secret\":1}");
        assert_eq!(open(&key, "acme", &sealed).unwrap(), b"{\"secret\":1}");
        assert!(open(&derive_key("k2"), "acme", &sealed).is_err());
        assert!(open(&key, "other", &sealed).is_err());
        let mut bytes = STANDARD.decode(&sealed.ciphertext).unwrap();
        bytes[0] ^= 1;
        let tampered = Sealed {
            ciphertext: STANDARD.encode(bytes),
            ..sealed.clone()
        };
        assert!(open(&key, "acme", &tampered).is_err());
        assert_ne!(
            seal(&key, "acme", b"x").nonce,
            seal(&key, "acme", b"x").nonce
        );
    }
}
